//! Waiting for the signals that stop the emulator (Ctrl-C, SIGTERM).
//!
//! `server::run_until_shutdown` installs the handlers with [`Signals::install`] *before* it
//! binds anything (a signal arriving between "listening" and the first wait would otherwise kill
//! the process with the default action, exit status 143), awaits [`Signals::recv`], then stops
//! every node, so the process exits 0 within a second of the signal.

/// Installed signal handlers.
pub struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the SIGTERM and SIGINT (Ctrl-C) handlers now. Must run inside a tokio runtime.
    pub fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let term = signal(SignalKind::terminate())
                .map_err(|err| tracing::warn!(%err, "cannot listen for SIGTERM"))
                .ok();
            let int = signal(SignalKind::interrupt())
                .map_err(|err| tracing::warn!(%err, "cannot listen for Ctrl-C"))
                .ok();
            Signals { term, int }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    /// Resolves when the process receives Ctrl-C (SIGINT) or SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            let term = async {
                match self.term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match self.int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = term => tracing::info!("SIGTERM received, shutting down"),
                _ = int => tracing::info!("Ctrl-C received, shutting down"),
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::warn!(%err, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            tracing::info!("Ctrl-C received, shutting down");
        }
    }
}

/// Resolves when the process receives Ctrl-C (SIGINT) or SIGTERM (installs the handlers on
/// first call; prefer [`Signals::install`] early when the window matters).
pub async fn signal() {
    Signals::install().recv().await;
}
