//! Generates the Tauri context and the permissions of the app's own commands,
//! so that the capability file can allow exactly these three.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&["rpc", "subscribe", "open_consent"]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        println!("cargo::error={e:#}");
        std::process::exit(1);
    }
}
