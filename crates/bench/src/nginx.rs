//! nginx as a bare L7 reverse-proxy hop in front of the echo server.

use std::{
    fs,
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    time::Duration,
};

use tokio::process::Command;

use crate::{
    BoxError,
    procs::{self, Proc},
};

/// A running nginx (master; its workers are its children).
pub struct Nginx {
    pub proc: Proc,
    pub url: String,
}

/// The configuration: everything (pid, logs, temp files) inside `dir`, so it
/// runs as any user without touching /etc; `proxy_pass` with HTTP/1.1 and a
/// keep-alive upstream pool, no buffering (responses are SSE streams).
fn config(dir: &Path, listen: u16, upstream: SocketAddr, workers: usize) -> String {
    let d = dir.display();
    format!(
        r#"worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    upstream echo {{
        server {upstream};
        keepalive 128;
    }}

    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
"#
    )
}

/// Starts nginx in the foreground (`daemon off`) on a free loopback port, proxying
/// to `upstream` (the echo server); `path` is the `/mcp` path it is reached on.
pub async fn start(
    nginx: &Path,
    dir: &Path,
    upstream: SocketAddr,
    path: &str,
    workers: usize,
) -> Result<Nginx, BoxError> {
    fs::create_dir_all(dir)?;
    let mut last_error = String::new();
    // The free port can be taken between choosing and binding it: try a few.
    for _ in 0..3 {
        let port = procs::free_port()?;
        let conf = dir.join("nginx.conf");
        fs::write(&conf, config(dir, port, upstream, workers))?;
        let mut command = Command::new(nginx);
        command
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            // Startup messages go here too, not to the compiled-in /var/log path.
            .arg("-e")
            .arg(dir.join("error.log"))
            .args(["-g", "daemon off;"]);
        let proc = Proc::spawn("nginx", &mut command, &dir.join("stderr.log"))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        match procs::wait_for_port(addr, Duration::from_secs(5)).await {
            Ok(()) if procs::stat(proc.pid).is_some() => {
                return Ok(Nginx {
                    url: format!("http://{addr}{path}"),
                    proc,
                });
            }
            _ => {
                last_error = fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                proc.stop(Duration::from_secs(2)).await;
            }
        }
    }
    Err(format!("nginx did not start: {}", last_error.trim()).into())
}

/// `nginx -v` (it prints to stderr).
pub fn version(nginx: &Path) -> String {
    std::process::Command::new(nginx)
        .arg("-v")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .and_then(|s| s.strip_prefix("nginx version: nginx/").map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
