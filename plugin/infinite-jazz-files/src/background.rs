//! File and network work started by an editor, done on a thread of its own: a window must
//! keep drawing while a slow disk or server answers. The editor asks each frame whether the
//! result has arrived and shows it then.

use std::sync::mpsc::{self, Receiver};

/// A result still being worked out on another thread.
pub struct Pending<T> {
    result: Receiver<T>,
}

impl<T: Send + 'static> Pending<T> {
    /// Starts `work` on a thread named `name`. When no thread can be started, the error
    /// comes back as the result of `on_spawn_error`, so the caller still shows something.
    pub fn spawn(
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
        on_spawn_error: impl FnOnce(std::io::Error) -> T,
    ) -> Self {
        let (tx, result) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let _ = tx.send(work());
            });
        if let Err(e) = spawned {
            let (tx, result) = mpsc::sync_channel(1);
            let _ = tx.send(on_spawn_error(e));
            return Pending { result };
        }
        Pending { result }
    }

    /// The result, once it is there (at most once); `None` while the work goes on.
    pub fn poll(&mut self) -> Option<T> {
        self.result.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_result_arrives_once_without_blocking_the_caller() {
        let (go_tx, go) = mpsc::channel::<()>();
        let mut pending = Pending::spawn(
            "test-work",
            move || {
                let _ = go.recv();
                42
            },
            |_| 0,
        );
        assert_eq!(pending.poll(), None, "still working");
        go_tx.send(()).expect("worker waits");
        let deadline = Instant::now() + Duration::from_secs(5);
        let value = loop {
            if let Some(v) = pending.poll() {
                break v;
            }
            assert!(Instant::now() < deadline, "no result");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(value, 42);
        assert_eq!(pending.poll(), None, "a result is handed over once");
    }
}
