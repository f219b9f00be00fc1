use std::process::ExitCode;

use troupe::cli::{self, Invocation};

mod allocator;

/// Configuration errors exit with 2, like a usage error.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let invocation = match cli::parse(std::env::args_os()) {
        Ok(i) => i,
        Err(e) => {
            // clap prints help/version itself with exit code 0.
            let code = if e.use_stderr() { EXIT_CONFIG } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let config = match cli::load_config(&invocation) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("troupe: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Invocation {
        print_config: true, ..
    } = invocation
    {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("troupe: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: troupe_config::Config) -> ExitCode {
    troupe::https::install_crypto_provider();
    let telemetry = match troupe::telemetry::init(&config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("troupe: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match troupe_actors::open_file_limit::raise_to_hard_limit() {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(e) => tracing::warn!("cannot raise the open file limit: {e}"),
    }
    let server = match troupe::start(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("troupe: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    // Scripts and tests read the bound address from this line (the port may
    // have been 0).
    println!("troupe listening on {}", server.url());
    telemetry.export_metrics(server.registry());
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.stop().await;
    telemetry.shutdown();
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
