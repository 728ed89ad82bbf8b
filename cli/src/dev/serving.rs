//! The threads that serve the API: one per core, each with a current-thread runtime and a
//! step-worker of its own, all taking connections from the one listener.
//!
//! A run started on a serving thread runs on it: its execution, its steps and its end
//! hand work to each other there (see `StepOutbox::inbox_for_this_thread`), and the
//! request waiting for it (`?wait`) is woken there. On one multi-thread runtime, each of
//! those hand-offs could wake the other worker to steal the task, and tokio wakes a second
//! idle worker whenever a woken one finds work: a sequential 3-step run switched threads
//! 6 to 7 times and took about 0.2 ms longer than on one worker (1.0 against 0.8 ms). The
//! cores still share the load: connections go to whichever thread accepts them first, and
//! what one thread starts may be finished by another (an agent's result, an approval).

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use skein_core::Platform;
use skein_core::ports::WorkflowEngine;
use skein_local::StepOutbox;
use tokio::sync::{mpsc, watch};

use super::DevError;

/// What each serving thread's step-worker runs steps with.
#[derive(Clone)]
pub(super) struct StepWork {
    pub platform: Platform,
    pub engine: Arc<dyn WorkflowEngine>,
    pub outbox: StepOutbox,
}

/// The serving threads, until they stop.
pub(super) struct ServingThreads {
    stop: watch::Sender<bool>,
    /// Each thread's outcome, sent once its runtime is gone (and every task with it).
    ended: mpsc::UnboundedReceiver<std::io::Result<()>>,
    running: usize,
}

impl ServingThreads {
    /// One thread per core, serving `app` on `listener`.
    pub(super) fn start(
        listener: std::net::TcpListener,
        app: axum::Router,
        work: StepWork,
    ) -> Result<Self, DevError> {
        let count = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let (stop, stopping) = watch::channel(false);
        let (report, ended) = mpsc::unbounded_channel();
        for n in 0..count {
            let listener = listener.try_clone().map_err(DevError::Serve)?;
            let app = app.clone();
            let stopping = stopping.clone();
            let report = report.clone();
            let work = work.clone();
            std::thread::Builder::new()
                .name(format!("skein-serve-{n}"))
                .spawn(move || {
                    let _ = report.send(serve(listener, app, work, stopping));
                })
                .map_err(DevError::Serve)?;
        }
        Ok(Self {
            stop,
            ended,
            running: count,
        })
    }

    /// Waits until a thread stops on its own (an I/O error), with what stopped it.
    pub(super) async fn wait(&mut self) -> std::io::Result<()> {
        match self.ended.recv().await {
            Some(result) => {
                self.running -= 1;
                result
            }
            None => Ok(()),
        }
    }

    /// Stops accepting requests; the ones in flight finish (see [`stopped`](Self::stopped)).
    pub(super) fn begin_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Returns once every thread has stopped (after [`begin_stop`](Self::begin_stop)) and
    /// the tasks left on it are gone.
    pub(super) async fn stopped(mut self) {
        while self.running > 0 && self.ended.recv().await.is_some() {
            self.running -= 1;
        }
    }
}

/// One serving thread: its runtime, its step-worker and its share of the listener.
fn serve(
    listener: std::net::TcpListener,
    app: axum::Router,
    work: StepWork,
    mut stopping: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(async move {
        let inbox = work.outbox.inbox_for_this_thread();
        let step_worker = tokio::spawn(skein_local::run_step_worker(
            work.platform,
            work.engine,
            inbox,
        ));
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        })
        .await;
        step_worker.abort();
        served
    });
    // Whatever is still on the thread (an execution the engine halted) goes with it.
    drop(runtime);
    served
}
