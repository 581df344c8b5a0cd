// The sandbox's Rust test harness (genetic_instruct/sandbox/toolchains/rust.py places it
// after the solution, with the tests in a module of their own, each assert!, assert_eq!
// and assert_ne! of the tests wrapped in gi_harness::check). It counts each assertion the
// way the Python harness counts a top-level assert: a failing one (its panic caught) is
// reported and the tests go on.
mod gi_harness {
    use std::any::Any;
    use std::fs::File;
    use std::io::Write;
    use std::os::unix::io::FromRawFd;
    use std::panic;
    use std::sync::Mutex;

    const DETAIL: usize = 300;

    struct Channel {
        nonce: String,
        out: File,
        seen: Vec<u8>, // per assertion: 1 reported passing, 2 failing
    }

    static CHANNEL: Mutex<Option<Channel>> = Mutex::new(None);

    pub fn start(total: usize) {
        let nonce = std::fs::read_to_string(".gi-nonce").unwrap_or_default();
        let _ = std::fs::remove_file(".gi-nonce");
        // Descriptor 3 is the records channel the sandbox opened for this program.
        let out = unsafe { File::from_raw_fd(3) };
        let channel = Channel { nonce: nonce.trim().to_string(), out, seen: vec![0; total] };
        *CHANNEL.lock().unwrap_or_else(|e| e.into_inner()) = Some(channel);
        // A caught panic is reported on the channel; its default message would only repeat it.
        panic::set_hook(Box::new(|_| {}));
        emit("total", total, "");
    }

    pub fn emit(kind: &str, index: usize, text: &str) {
        let mut guard = CHANNEL.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = guard.as_mut() {
            let detail: String = text
                .chars()
                .take(DETAIL)
                .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
                .collect();
            let line = format!("{} {} {} {}\n", channel.nonce, kind, index, detail);
            if channel.out.write_all(line.as_bytes()).is_err() {
                std::process::exit(3); // the program closed our channel
            }
        }
    }

    fn mark(index: usize, seen: u8) -> bool {
        let mut guard = CHANNEL.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut().and_then(|channel| channel.seen.get_mut(index)) {
            Some(state) if *state & seen == 0 => {
                *state |= seen;
                true
            }
            _ => false,
        }
    }

    pub fn message(payload: &(dyn Any + Send)) -> String {
        if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else if let Some(text) = payload.downcast_ref::<&str>() {
            text.to_string()
        } else {
            "a panic".to_string()
        }
    }

    pub fn check<F: FnOnce()>(index: usize, line: usize, text: &str, assertion: F) {
        match panic::catch_unwind(panic::AssertUnwindSafe(assertion)) {
            Ok(()) => {
                if mark(index, 1) {
                    emit("pass", index, "");
                }
            }
            Err(payload) => {
                if mark(index, 2) {
                    let why = message(payload.as_ref());
                    emit("fail", index, &format!("line {}: {} ({})", line, text, why));
                }
            }
        }
    }
}

fn main() {
    gi_harness::start(GI_TOTAL);
    match std::panic::catch_unwind(|| gi_tests::gi_tests_main()) {
        Ok(_) => gi_harness::emit("done", GI_TOTAL, ""),
        Err(payload) => {
            let why = gi_harness::message(payload.as_ref());
            gi_harness::emit("error", 0, &format!("the tests panicked: {}", why));
            std::process::exit(101);
        }
    }
}
