//! A stdio server's pipe: one JSON-RPC message per line each way, lines
//! bounded, a byte-order mark and CR tolerated.

use std::sync::Arc;

use bytes::Bytes;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    sync::mpsc,
};

use super::conn::{Conn, deliver};

/// Longest stdio line (one message) the gateway reads.
const MAX_LINE: usize = 16 * 1024 * 1024;

pub(super) async fn write_pipe(
    conn: Arc<Conn>,
    stdin: tokio::process::ChildStdin,
    mut rx: mpsc::Receiver<Bytes>,
) {
    let mut stdin = tokio::io::BufWriter::new(stdin);
    loop {
        let bytes = tokio::select! {
            bytes = rx.recv() => bytes,
            () = conn.ended() => None,
        };
        let Some(bytes) = bytes else { break };
        let written = async {
            stdin.write_all(&bytes).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        }
        .await;
        if let Err(e) = written {
            conn.end(format!("writing to the server failed: {e}"));
            break;
        }
    }
    // Dropping stdin closes the server's input.
}

pub(super) async fn read_pipe(conn: Arc<Conn>, stdout: tokio::process::ChildStdout) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        let read = tokio::select! {
            read = read_line(&mut reader, &mut line) => read,
            () = conn.ended() => return,
        };
        match read {
            Ok(0) => {
                conn.end("the server closed its output");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                conn.end(format!("reading from the server failed: {e}"));
                return;
            }
        }
        let text = trim_line(&line);
        if text.is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            tracing::warn!(
                server = conn.server(),
                bytes = line.len(),
                "skipping an oversized line"
            );
            continue;
        }
        deliver(&conn, text).await;
    }
}

/// Reads one line, keeping at most [`MAX_LINE`] + 1 bytes of it.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(total);
        }
        let (used, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        if line.len() <= MAX_LINE {
            let keep = used.min(MAX_LINE + 1 - line.len());
            line.extend_from_slice(&available[..keep]);
        }
        reader.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let mut text = line;
    if let Some(rest) = text.strip_prefix(b"\xef\xbb\xbf") {
        text = rest;
    }
    while let [rest @ .., b'\n' | b'\r'] = text {
        text = rest;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_bounded_and_trimmed() {
        let input = b"\xef\xbb\xbf{\"a\":1}\r\nsecond\n".to_vec();
        let mut reader = tokio::io::BufReader::new(&input[..]);
        let mut line = Vec::new();
        read_line(&mut reader, &mut line).await.unwrap();
        assert_eq!(trim_line(&line), b"{\"a\":1}");
        line.clear();
        read_line(&mut reader, &mut line).await.unwrap();
        assert_eq!(trim_line(&line), b"second");
        line.clear();
        assert_eq!(read_line(&mut reader, &mut line).await.unwrap(), 0);
    }
}
