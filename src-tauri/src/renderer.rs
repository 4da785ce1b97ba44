//! WebKitGTK's renderer on machines without a GPU.

/// The variable WebKitGTK reads to use its older renderer.
#[cfg(target_os = "linux")]
const DISABLE_DMABUF: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// WebKitGTK 2.42+ paints through DMA-BUF buffers by default. Without a DRM
/// render node (no GPU: virtual machines, Xvfb, remote X sessions) that path
/// falls back to copying every frame in software: with the live log
/// streaming, the window painted 7 frames in 5 s where the older renderer
/// painted over 200 (BENCHMARKS.md). So when there is no render node and the
/// user has not chosen (`WEBKIT_DISABLE_DMABUF_RENDERER` unset), the app runs
/// itself again, same PID and arguments, with the older renderer. A new
/// process image rather than `set_var`: the environment may only change
/// before any thread starts.
pub fn prefer_working_renderer() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt as _;

        if std::env::var_os(DISABLE_DMABUF).is_some() || has_render_node() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        // Returns only when the exec failed; then the default renderer it is.
        let error = command.args(args).env(DISABLE_DMABUF, "1").exec();
        eprintln!("switchboard-desktop: keeping the default renderer: {error}");
    }
}

#[cfg(target_os = "linux")]
fn has_render_node() -> bool {
    std::fs::read_dir("/dev/dri").is_ok_and(|dir| {
        dir.flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("renderD"))
    })
}
