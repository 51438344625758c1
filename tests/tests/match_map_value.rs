//! btf-match's map-value verdicts against the running kernel: generated map
//! value BTFs (kptr tags × pointees, modifiers, stacked tags, misalignment,
//! nesting, arrays, field limits, spin locks and timers, every map type that
//! takes a BTF value, the prog-only flags) are loaded with `BPF_BTF_LOAD` and
//! created with `BPF_MAP_CREATE`; btf-match must give the same verdict (the
//! same step, the same errno) on every one, and name the field, its offset
//! and the rule on every rejection.
//!
//! Needs root and the bpf syscall: skipped locally without them, a failure in CI.

use btf::{Builder, TypeId};
use btf_match::map::{F_RDONLY_PROG, F_WRONLY_PROG};
use btf_match::{check_map_value, DtorTable, Kernel, MapSpec, MapType, Step};

/// A member of a generated value.
#[derive(Clone, Debug)]
enum M {
    /// `int`.
    Int,
    /// A pointer `ptr → pre... → tag(s) → post... → pointee` (pre/post: modifier letters
    /// c=const v=volatile t=typedef), `outer` wrapping the pointer itself.
    Kptr {
        tags: Vec<&'static str>,
        pointee: P,
        pre: &'static str,
        post: &'static str,
        outer: &'static str,
    },
    SpinLock,
    Timer,
    Nested(Vec<M>),
    Array(Box<M>, u32),
    Union(Vec<M>),
    /// Padding of n bytes (misaligns what follows).
    Pad(u32),
}

#[derive(Clone, Copy, Debug)]
enum P {
    /// A struct of this name (kernel structs are matched by name).
    S(&'static str, u32),
    U(&'static str),
    I,
    Fwd(&'static str),
}

fn kp(tag: &'static str, pointee: P) -> M {
    M::Kptr {
        tags: vec![tag],
        pointee,
        pre: "",
        post: "",
        outer: "",
    }
}

struct Gen {
    b: Builder,
    int: TypeId,
    n: u32,
}

fn modifiers(g: &mut Gen, mut id: TypeId, mods: &str) -> TypeId {
    for c in mods.chars().rev() {
        id = match c {
            'c' => g.b.add_const(id),
            'v' => g.b.add_volatile(id),
            _ => {
                g.n += 1;
                let name = format!("td{}", g.n);
                g.b.add_typedef(&name, id)
            }
        };
    }
    id
}

/// Returns (type, size, align).
fn build(g: &mut Gen, m: &M) -> (TypeId, u32, u32) {
    match m {
        M::Int => (g.int, 4, 4),
        M::Pad(n) => {
            let c = g.b.add_int("char", 1, 1);
            let idx = g.int;
            (g.b.add_array(c, idx, *n), *n, 1)
        }
        M::Kptr {
            tags,
            pointee,
            pre,
            post,
            outer,
        } => {
            let base = match pointee {
                P::S(name, size) => g.b.add_struct(name, *size, &[]),
                P::U(name) => g.b.add_union(name, 8, &[]),
                P::I => g.int,
                P::Fwd(name) => g.b.add_fwd(name, false),
            };
            let mut id = modifiers(g, base, post);
            for t in tags.iter().rev() {
                id = g.b.add_type_tag(t, id);
            }
            id = modifiers(g, id, pre);
            id = g.b.add_ptr(id);
            id = modifiers(g, id, outer);
            (id, 8, 8)
        }
        M::SpinLock => {
            let id = g.b.add_struct("bpf_spin_lock", 4, &[("val", g.int, 0)]);
            (id, 4, 4)
        }
        M::Timer => {
            let u64t = g.b.add_int("unsigned long long", 8, 0);
            let arr = g.b.add_array(u64t, g.int, 2);
            let id = g.b.add_struct("bpf_timer", 16, &[("opaque", arr, 0)]);
            (id, 16, 8)
        }
        M::Nested(ms) => {
            g.n += 1;
            let name = format!("inner{}", g.n);
            let (id, size, align) = composite(g, &name, ms, false);
            (id, size, align)
        }
        M::Union(ms) => {
            g.n += 1;
            let name = format!("un{}", g.n);
            composite(g, &name, ms, true)
        }
        M::Array(m, n) => {
            let (e, size, align) = build(g, m);
            (g.b.add_array(e, g.int, *n), size * n, align)
        }
    }
}

fn composite(g: &mut Gen, name: &str, ms: &[M], union: bool) -> (TypeId, u32, u32) {
    let mut members = Vec::new();
    let mut off = 0u32;
    let mut max_align = 1;
    let mut size = 0;
    for (i, m) in ms.iter().enumerate() {
        let (id, sz, align) = build(g, m);
        let packed = matches!(ms.get(i.wrapping_sub(1)), Some(M::Pad(_)));
        if !union {
            if !packed {
                off = off.div_ceil(align) * align;
            }
            members.push((format!("f{i}"), id, off * 8));
            off += sz;
            size = off;
        } else {
            members.push((format!("f{i}"), id, 0));
            size = size.max(sz);
        }
        max_align = max_align.max(align);
    }
    let size = size.div_ceil(max_align) * max_align;
    let refs: Vec<(&str, TypeId, u32)> = members
        .iter()
        .map(|(n, t, o)| (n.as_str(), *t, *o))
        .collect();
    let id = if union {
        g.b.add_union(name, size, &[])
    } else {
        g.b.add_struct(name, size, &[])
    };
    // Re-add with members (the builder takes bit offsets).
    let _ = id;
    let id = if union {
        g.b.add_union(name, size, &refs)
    } else {
        g.b.add_bitfield_free_struct(name, size, &refs)
    };
    (id, size, max_align)
}

trait StructBits {
    fn add_bitfield_free_struct(
        &mut self,
        name: &str,
        size: u32,
        m: &[(&str, TypeId, u32)],
    ) -> TypeId;
}

impl StructBits for Builder {
    fn add_bitfield_free_struct(
        &mut self,
        name: &str,
        size: u32,
        m: &[(&str, TypeId, u32)],
    ) -> TypeId {
        self.add_struct(name, size, m)
    }
}

struct Case {
    name: String,
    members: Vec<M>,
    map: MapType,
    flags: u32,
}

/// Builds a case's blob; returns (raw, key id, value id, value size).
fn blob(c: &Case) -> (Vec<u8>, TypeId, TypeId, u32) {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, 1);
    let mut g = Gen { b, int, n: 0 };
    let (v, size, _) = composite(&mut g, "v", &c.members, false);
    let btf = g.b.finish().expect("generated BTF builds");
    (btf.to_bytes(), int, v, size)
}

#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    pad: [u32; 21],
}

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
    map_ifindex: u32,
    btf_fd: u32,
    btf_key_type_id: u32,
    btf_value_type_id: u32,
    pad: [u32; 17],
}

fn sys_bpf<T>(cmd: i64, attr: &T) -> Result<i32, i32> {
    // SAFETY: `attr` is a live, zero-padded `union bpf_attr` prefix for `cmd`
    // whose pointers (if any) are valid for the sizes given; the size passed
    // is its own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r as i32)
    }
}

fn close(fd: i32) {
    // SAFETY: `fd` came from the kernel just now and nothing else owns it.
    unsafe { libc::close(fd) };
}

/// The kernel's verdict: Ok, or the step and errno.
fn kernel_verdict(raw: &[u8], spec: &MapSpec) -> Result<(), (Step, i32)> {
    let attr = BtfLoadAttr {
        btf: raw.as_ptr() as u64,
        btf_size: raw.len() as u32,
        ..Default::default()
    };
    let fd = sys_bpf(18, &attr).map_err(|e| (Step::BtfLoad, e))?;
    let m = MapCreateAttr {
        map_type: spec.map_type.raw(),
        key_size: spec.key_size,
        value_size: spec.value_size,
        max_entries: spec.max_entries,
        map_flags: spec.map_flags,
        btf_fd: fd as u32,
        btf_key_type_id: spec.key_type_id.0,
        btf_value_type_id: spec.value_type_id.0,
        ..Default::default()
    };
    let r = sys_bpf(0, &m);
    close(fd);
    let mfd = r.map_err(|e| (Step::MapCreate, e))?;
    close(mfd);
    Ok(())
}

fn kernel_available() -> bool {
    let mut b = Builder::new();
    b.add_int("int", 4, 1);
    let raw = b.finish().expect("int").to_bytes();
    let attr = BtfLoadAttr {
        btf: raw.as_ptr() as u64,
        btf_size: raw.len() as u32,
        ..Default::default()
    };
    let ok = sys_bpf(18, &attr).map(close).is_ok();
    btfkit_tests::oracle(ok, "bpf(BPF_BTF_LOAD) (needs root and the bpf syscall)")
}

const TASK: P = P::S("task_struct", 8);
const CGROUP: P = P::S("cgroup", 8);
const CPUMASK: P = P::S("bpf_cpumask", 8);
const FILE: P = P::S("file", 8);
const SOCK: P = P::S("sock_common", 8);
const LOCAL: P = P::S("my_obj", 16);

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut add = |name: String, members: Vec<M>, map: MapType, flags: u32| {
        out.push(Case {
            name,
            members,
            map,
            flags,
        })
    };
    let tags = [
        "kptr_untrusted",
        "kptr",
        "percpu_kptr",
        "uptr",
        "kptr_ref",
        "foo",
    ];
    let pointees = [
        ("task_struct", TASK),
        ("cgroup", CGROUP),
        ("bpf_cpumask", CPUMASK),
        ("file", FILE),
        ("sock_common", SOCK),
        ("local", LOCAL),
        ("union", P::U("my_union")),
        ("int", P::I),
        ("fwd", P::Fwd("task_struct")),
    ];
    // Each tag on each pointee, alone (array and task storage) and beside a kptr.
    for t in tags {
        for (pn, p) in pointees {
            add(
                format!("{t} -> {pn}, array"),
                vec![M::Int, kp(t, p)],
                MapType::Array,
                0,
            );
        }
        for (pn, p) in [("task_struct", TASK), ("local", LOCAL), ("file", FILE)] {
            add(
                format!("{t} -> {pn}, task_storage"),
                vec![kp(t, p)],
                MapType::TaskStorage,
                0,
            );
            add(
                format!("{t} -> {pn} beside kptr_untrusted -> file"),
                vec![kp("kptr_untrusted", FILE), kp(t, p)],
                MapType::Hash,
                0,
            );
        }
    }
    // Every map type taking BTF values, with each kind of field.
    for (mt, mn) in MapType::ALL {
        add(
            format!("kptr -> task_struct in {mn}"),
            vec![kp("kptr", TASK)],
            mt,
            0,
        );
        add(
            format!("kptr_untrusted -> file in {mn}"),
            vec![M::Int, kp("kptr_untrusted", FILE)],
            mt,
            0,
        );
        add(
            format!("uptr -> local in {mn}"),
            vec![kp("uptr", LOCAL)],
            mt,
            0,
        );
        add(
            format!("spin lock in {mn}"),
            vec![M::SpinLock, M::Int],
            mt,
            0,
        );
        add(format!("timer in {mn}"), vec![M::Timer], mt, 0);
        add(
            format!("percpu_kptr -> local in {mn}"),
            vec![kp("percpu_kptr", LOCAL)],
            mt,
            0,
        );
    }
    // Prog-only flags.
    for (f, fname) in [
        (F_RDONLY_PROG, "rdonly_prog"),
        (F_WRONLY_PROG, "wronly_prog"),
    ] {
        for mt in [MapType::Array, MapType::Hash, MapType::PercpuArray] {
            add(
                format!("kptr -> task_struct, {fname}, {mt}"),
                vec![kp("kptr", TASK)],
                mt,
                f,
            );
            add(format!("plain int, {fname}, {mt}"), vec![M::Int], mt, f);
            add(
                format!("spin lock, {fname}, {mt}"),
                vec![M::SpinLock],
                mt,
                f,
            );
            add(
                format!("bad tag (plain), {fname}, {mt}"),
                vec![kp("kptr_ref", TASK)],
                mt,
                f,
            );
        }
        add(
            format!("kptr -> task_struct, {fname}, task_storage"),
            vec![kp("kptr", TASK)],
            MapType::TaskStorage,
            f,
        );
    }
    // Modifiers before and after the tag, and on the pointer.
    for t in ["kptr", "kptr_untrusted"] {
        for (pre, post, outer) in [
            ("c", "", ""),
            ("v", "", ""),
            ("t", "", ""),
            ("", "c", ""),
            ("", "v", ""),
            ("", "t", ""),
            ("", "cv", ""),
            ("", "", "v"),
            ("", "", "c"),
            ("", "", "t"),
            ("", "", "cv"),
        ] {
            for (pn, p) in [("task_struct", TASK), ("local", LOCAL)] {
                add(
                    format!("{t} -> {pn}, pre '{pre}' post '{post}' outer '{outer}'"),
                    vec![M::Kptr {
                        tags: vec![t],
                        pointee: p,
                        pre,
                        post,
                        outer,
                    }],
                    MapType::Array,
                    0,
                );
            }
        }
    }
    // Stacked tags.
    for (a, b) in [
        ("kptr", "kptr"),
        ("kptr", "kptr_untrusted"),
        ("foo", "kptr"),
        ("kptr", "foo"),
        ("percpu_kptr", "uptr"),
    ] {
        let k = M::Kptr {
            tags: vec![a, b],
            pointee: TASK,
            pre: "",
            post: "",
            outer: "",
        };
        add(
            format!("stacked tags {a} {b}"),
            vec![k.clone()],
            MapType::Array,
            0,
        );
        add(
            format!("stacked tags {a} {b} beside kptr"),
            vec![kp("kptr", TASK), k],
            MapType::Array,
            0,
        );
    }
    // Misaligned.
    for t in ["kptr", "kptr_untrusted", "foo", "uptr"] {
        add(
            format!("{t} misaligned at 4"),
            vec![M::Int, M::Pad(0), kp(t, TASK)],
            MapType::Array,
            0,
        );
        add(
            format!("{t} misaligned at 4 beside kptr"),
            vec![kp("kptr", CGROUP), M::Int, M::Pad(0), kp(t, LOCAL)],
            MapType::Array,
            0,
        );
    }
    // Nested structs and arrays.
    add(
        "nested kptr".into(),
        vec![M::Int, M::Nested(vec![kp("kptr", TASK)])],
        MapType::Array,
        0,
    );
    add(
        "nested bad kptr (no dtor)".into(),
        vec![M::Nested(vec![kp("kptr", FILE)])],
        MapType::Array,
        0,
    );
    add(
        "nested bad kptr beside kptr".into(),
        vec![kp("kptr", TASK), M::Nested(vec![kp("kptr", FILE)])],
        MapType::Array,
        0,
    );
    add(
        "two-level nested".into(),
        vec![M::Nested(vec![
            M::Int,
            M::Nested(vec![kp("kptr_untrusted", FILE)]),
        ])],
        MapType::Hash,
        0,
    );
    for n in [1, 2, 10, 11, 12] {
        add(
            format!("array of {n} kptrs"),
            vec![M::Array(Box::new(kp("kptr", TASK)), n)],
            MapType::Array,
            0,
        );
        add(
            format!("array of {n} nested structs with a kptr"),
            vec![M::Array(
                Box::new(M::Nested(vec![M::Int, kp("kptr_untrusted", FILE)])),
                n,
            )],
            MapType::Array,
            0,
        );
    }
    add(
        "array of 0 kptrs".into(),
        vec![M::Int, M::Array(Box::new(kp("kptr", TASK)), 0)],
        MapType::Array,
        0,
    );
    add(
        "array of 2 timers".into(),
        vec![M::Array(Box::new(M::Timer), 2)],
        MapType::Array,
        0,
    );
    add(
        "array of 2 nested spin locks".into(),
        vec![M::Array(Box::new(M::Nested(vec![M::SpinLock])), 2)],
        MapType::Array,
        0,
    );
    add(
        "array of kptr_ref (plain)".into(),
        vec![M::Array(Box::new(kp("kptr_ref", TASK)), 2)],
        MapType::Array,
        0,
    );
    // Several kptrs, the field limit.
    for n in [3, 10, 11, 12] {
        let ms: Vec<M> = (0..n)
            .map(|i| kp(if i % 2 == 0 { "kptr" } else { "kptr_untrusted" }, TASK))
            .collect();
        add(format!("{n} kptrs"), ms.clone(), MapType::Hash, 0);
        let mut with_lock = ms;
        with_lock.push(M::SpinLock);
        add(
            format!("{n} kptrs and a spin lock"),
            with_lock,
            MapType::Hash,
            0,
        );
    }
    // Beside spin locks and timers.
    add(
        "kptr beside spin lock".into(),
        vec![M::SpinLock, kp("kptr", TASK)],
        MapType::Array,
        0,
    );
    add(
        "kptr beside timer".into(),
        vec![M::Timer, kp("kptr", TASK)],
        MapType::Array,
        0,
    );
    add(
        "kptr beside both".into(),
        vec![M::SpinLock, M::Timer, kp("kptr", CPUMASK)],
        MapType::Hash,
        0,
    );
    add(
        "two spin locks".into(),
        vec![M::SpinLock, M::SpinLock],
        MapType::Array,
        0,
    );
    add(
        "two timers".into(),
        vec![M::Timer, M::Timer],
        MapType::Array,
        0,
    );
    add(
        "two spin locks and a kptr".into(),
        vec![M::SpinLock, M::SpinLock, kp("kptr", TASK)],
        MapType::Array,
        0,
    );
    add(
        "timer beside kptr in percpu_array".into(),
        vec![M::Timer, kp("kptr", TASK)],
        MapType::PercpuArray,
        0,
    );
    add(
        "union of two kptrs".into(),
        vec![M::Union(vec![kp("kptr", TASK), kp("kptr", TASK)])],
        MapType::Array,
        0,
    );
    add(
        "union of two kptrs beside kptr".into(),
        vec![
            kp("kptr", TASK),
            M::Union(vec![kp("kptr", TASK), kp("kptr", TASK)]),
        ],
        MapType::Array,
        0,
    );
    // uptr pointee sizes.
    for (n, size) in [
        ("uptr to empty struct", 0),
        ("uptr to 4096-byte struct", 4096),
        ("uptr to 4097-byte struct", 4097),
    ] {
        add(
            n.into(),
            vec![kp("uptr", P::S("big", size))],
            MapType::TaskStorage,
            0,
        );
    }
    out
}

#[test]
fn map_values_agree_with_the_kernel() {
    if !kernel_available() {
        return;
    }
    let Some(p) = btfkit_tests::oracle_file(btfkit_tests::SYS_VMLINUX) else {
        return;
    };
    let kernel = Kernel::from_path(p.to_str().expect("path"), None).expect("kernel BTF");
    assert_eq!(kernel.version, btf_match::Version::V6_18);
    let cases = cases();
    let mut bad = Vec::new();
    let (mut accepted, mut at_load, mut at_create) = (0, 0, 0);
    for c in &cases {
        let (raw, key, value, size) = blob(c);
        let spec = MapSpec::usual(c.map, key, value, size, c.flags);
        let k = kernel_verdict(&raw, &spec);
        let ours = check_map_value(&raw, &kernel, &spec);
        match &k {
            Ok(()) => accepted += 1,
            Err((Step::BtfLoad, _)) => at_load += 1,
            Err(_) => at_create += 1,
        }
        if std::env::var_os("BTFKIT_MATCH_VERBOSE").is_some() {
            match &ours {
                Ok(v) => eprintln!(
                    "{}: ok, {} fields, plain {:?}",
                    c.name,
                    v.record.fields.len(),
                    v.plain_data.as_ref().map(|p| p.to_string())
                ),
                Err(r) => eprintln!("{}: {r}", c.name),
            }
        }
        let o = ours.as_ref().map(|_| ()).map_err(|r| (r.step, r.errno));
        if o != k {
            bad.push(format!(
                "{}: kernel {k:?}, ours {:?}",
                c.name,
                ours.as_ref().map_err(|r| r.to_string())
            ));
            continue;
        }
        if let Err(r) = &ours {
            let msg = r.to_string();
            // A field rejection names the field and offset; every one a rule.
            let names_field = r.problem.field.is_empty()
                || msg.contains(&format!(
                    "field '{}' at offset {}",
                    r.problem.field, r.problem.offset
                ));
            if !names_field || r.problem.rule.is_empty() {
                bad.push(format!(
                    "{}: message {msg:?} lacks the field, offset or rule",
                    c.name
                ));
            }
        }
    }
    eprintln!(
        "map values: {}/{} agree with the kernel ({accepted} accepted, {at_load} rejected at BPF_BTF_LOAD, {at_create} at BPF_MAP_CREATE)",
        cases.len() - bad.len(),
        cases.len()
    );
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

/// The built-in 6.18 dtor table is the running kernel's: every named struct
/// of its BTF is tried as a referenced kptr (`BPF_BTF_LOAD` fails with ENOENT
/// exactly for the structs without a destructor).
#[test]
fn builtin_dtor_table_is_the_kernels() {
    if !kernel_available() {
        return;
    }
    let Some(p) = btfkit_tests::oracle_file(btfkit_tests::SYS_VMLINUX) else {
        return;
    };
    let kernel = Kernel::from_path(p.to_str().expect("path"), None).expect("kernel BTF");
    let mut probed = Vec::new();
    let mut names: Vec<String> = kernel
        .btf
        .types()
        .filter(|(id, t)| {
            kernel.btf.is_kind(*id, btf::Kind::Struct)
                && !kernel.btf.name_of(*id).is_empty()
                && t.size().is_some()
        })
        .map(|(id, _)| kernel.btf.name_of(id).to_string())
        .collect();
    names.sort();
    names.dedup();
    for name in &names {
        let mut b = Builder::new();
        let s = b.add_struct(name, 8, &[]);
        let tag = b.add_type_tag("kptr", s);
        let ptr = b.add_ptr(tag);
        b.add_struct("v", 8, &[("p", ptr, 0)]);
        let raw = b.finish().expect("probe").to_bytes();
        let attr = BtfLoadAttr {
            btf: raw.as_ptr() as u64,
            btf_size: raw.len() as u32,
            ..Default::default()
        };
        match sys_bpf(18, &attr) {
            Ok(fd) => {
                close(fd);
                probed.push(name.clone());
            }
            Err(e) => assert_eq!(e, 2, "struct {name}: errno {e}"),
        }
    }
    let builtin = DtorTable::builtin(kernel.version, &kernel.btf, &kernel.index);
    let mut ours: Vec<String> = builtin
        .pairs()
        .map(|(s, _)| kernel.btf.name_of(s).to_string())
        .collect();
    ours.sort();
    eprintln!(
        "{} structs probed, {} with a destructor: {probed:?}",
        names.len(),
        probed.len()
    );
    assert_eq!(ours, probed);
}
