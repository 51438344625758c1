//! `cdump FILE [BASE] [-n N]`: loads BTF (split on BASE when given) and prints
//! it as a C header, as `bpftool btf dump file FILE [-B BASE] format c` does.
//! With `-n N`, dumps N times into a sink and prints the time per dump.

use std::io::Write;
use std::sync::Arc;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut repeat = None;
    if let Some(i) = args.iter().position(|a| a == "-n") {
        repeat = args.get(i + 1).and_then(|n| n.parse::<u32>().ok());
        args.drain(i..(i + 2).min(args.len()));
    }
    let Some(file) = args.first() else {
        eprintln!("usage: cdump FILE [BASE] [-n N]");
        std::process::exit(2);
    };
    let load = || -> Result<btf::Btf, btf::Error> {
        match args.get(1) {
            Some(b) => btf::load_with_base(file, Some(Arc::new(btf::load(b)?))),
            None => btf::load(file),
        }
    };
    if let Some(n) = repeat {
        let (mut load_t, mut dump_t) = (0.0, 0.0);
        for _ in 0..n {
            let t0 = std::time::Instant::now();
            let btf = load().unwrap_or_else(|e| fail(&e));
            let t1 = std::time::Instant::now();
            let mut sink = std::io::sink();
            btf_dump::c::dump(&btf, &mut sink).unwrap_or_else(|e| fail(&e));
            load_t += (t1 - t0).as_secs_f64();
            dump_t += t1.elapsed().as_secs_f64();
        }
        let per = |t: f64| t * 1e3 / f64::from(n);
        eprintln!(
            "per run: load {:.2} ms, dump {:.2} ms",
            per(load_t),
            per(dump_t)
        );
        return;
    }
    let btf = load().unwrap_or_else(|e| fail(&e));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Err(e) = btf_dump::c::dump(&btf, &mut out).and_then(|()| out.flush()) {
        fail(&e);
    }
    // The process ends here: leave freeing the type graph to the OS.
    std::mem::forget(btf);
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("cdump: {e}");
    std::process::exit(1);
}
