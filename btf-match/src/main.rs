//! `btf-match`: would the kernel take this map value? (exit 0 yes, 1 no, 2 bad input)

use std::process::ExitCode;

use btf::{Kind, NameIndex, TypeId};
use btf_match::{check_map_value, Kernel, MapSpec, MapType, Version};
use clap::{Parser, Subcommand};

/// `println!` that ends the process quietly when the reader has gone
/// (`btf-match kfuncs | head`), and with exit 2 on other write errors.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($t)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("btf-match: cannot write the output: {e}");
            std::process::exit(2);
        }
    }};
}

#[derive(Parser)]
#[command(
    name = "btf-match",
    version,
    about = "The kernel's kptr and kfunc BTF checks, before load"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Would BPF_BTF_LOAD take FILE and BPF_MAP_CREATE a map of value type
    /// NAME? Prints the special-field table (exit 0) or the reason (exit 1).
    MapValue {
        /// Program BTF: raw, or an object with .BTF.
        #[arg(long)]
        btf: String,
        /// The value type (a struct name).
        #[arg(long = "type")]
        type_name: String,
        /// Map type (bpftool's names: hash, array, percpu_hash, percpu_array,
        /// lru_hash, lru_percpu_hash, sk_storage, inode_storage, task_storage,
        /// cgrp_storage).
        #[arg(long, default_value = "array")]
        map_type: String,
        /// map_flags (decimal or 0x hex); BPF_F_NO_PREALLOC is added for
        /// local storage.
        #[arg(long, default_value = "0")]
        map_flags: String,
        /// The kernel's BTF.
        #[arg(long, default_value = "/sys/kernel/btf/vmlinux")]
        kernel_btf: String,
        /// The rules of kernel X.Y (default: from the kernel BTF).
        #[arg(long)]
        kernel: Option<String>,
    },
    /// List the kfunc sets (BTF_SET8s) of a resolved kernel ELF with each
    /// entry's flags as .BTF_ids holds them, the program types each set is
    /// registered for (the version's table), and its destructor pairs with
    /// their check (`void f(T *)`, T void or the struct). Exit 1 when a
    /// check fails. Without VMLINUX: the version's built-in table of kfunc
    /// sets, flags and program types.
    Kfuncs {
        /// The kernel ELF (vmlinux or a module) with .BTF and .BTF_ids.
        vmlinux: Option<String>,
        /// The rules of kernel X.Y (default: from the kernel BTF; 6.18
        /// without VMLINUX).
        #[arg(long)]
        kernel: Option<String>,
    },
}

fn parse_num(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn map_value(
    btf_path: &str,
    type_name: &str,
    map_type: &str,
    map_flags: &str,
    kernel_btf: &str,
    kernel: Option<&str>,
) -> Result<bool, String> {
    let mt = MapType::parse(map_type).ok_or_else(|| {
        let names: Vec<&str> = MapType::ALL.iter().map(|(_, n)| *n).collect();
        format!(
            "unknown map type '{map_type}' (known: {})",
            names.join(", ")
        )
    })?;
    let flags =
        parse_num(map_flags).ok_or_else(|| format!("--map-flags '{map_flags}': not a number"))?;
    let version = kernel.map(Version::parse).transpose().map_err(|e| e.0)?;
    let kernel = Kernel::from_path(kernel_btf, version).map_err(|e| e.0)?;
    let data = std::fs::read(btf_path).map_err(|e| format!("{btf_path}: {e}"))?;
    let raw = btf::read::file::raw_btf_bytes(&data).map_err(|e| format!("{btf_path}: {e}"))?;
    let prog = btf::read::raw::parse(&raw, None).map_err(|e| format!("{btf_path}: {e}"))?;
    let index = NameIndex::new(&prog);
    let value = index
        .find(&prog, type_name, Kind::Struct)
        .or_else(|| index.find(&prog, type_name, Kind::Datasec))
        .ok_or_else(|| format!("{btf_path}: no struct '{type_name}'"))?;
    let value_size = prog.type_by_id(value).and_then(|t| t.size()).unwrap_or(0);
    // A 4-byte INT for the key, as libbpf declares `__type(key, int)`.
    let key = prog
        .types()
        .find(|(_, t)| {
            matches!(&t.data, btf::TypeData::Int(i) if i.bits == 32 && i.offset == 0)
                && t.size() == Some(4)
        })
        .map(|(id, _)| id)
        .unwrap_or(TypeId(0));
    if key.is_void() {
        return Err(format!("{btf_path}: no 4-byte INT for the key"));
    }
    let spec = MapSpec::usual(mt, key, value, value_size, flags);
    match check_map_value(&raw, &kernel, &spec) {
        Ok(v) => {
            say!(
                "struct {type_name}: {value_size} bytes, {} map, kernel {} rules: accepted",
                mt,
                kernel.version
            );
            if let Some(p) = &v.plain_data {
                say!("  no special fields: the field search fails ({p}), the kernel keeps the value as plain data");
            }
            for f in &v.record.fields {
                let pointee = match &f.pointee {
                    Some(btf_match::fields::Pointee::Kernel { id, dtor }) => format!(
                        " -> kernel struct {} [{}]{}",
                        f.pointee_name,
                        id.0,
                        dtor.map_or(String::new(), |d| format!(
                            ", dtor {}",
                            kernel.btf.name_of(d)
                        ))
                    ),
                    Some(btf_match::fields::Pointee::Program) => {
                        format!(" -> program struct {}", f.pointee_name)
                    }
                    None => String::new(),
                };
                say!(
                    "  {:>5} {:>3} {:<15} {}{pointee}",
                    f.offset,
                    f.size,
                    f.ty.name(),
                    f.path
                );
            }
            Ok(true)
        }
        Err(r) => {
            say!("{btf_path}: {r}");
            Ok(false)
        }
    }
}

/// The program types a set of the version's table is registered for.
fn prog_types_text(version: Version, set: &str) -> String {
    let Some(s) = btf_match::progs::kfunc_sets(version)
        .iter()
        .find(|s| s.name == set)
    else {
        return format!("not in the {version} table");
    };
    let mut v: Vec<String> = s
        .prog_types
        .iter()
        .map(|p| match p {
            btf_match::progs::ProgType::Unspec => "every program type (common)".to_string(),
            p => p.name().to_string(),
        })
        .collect();
    if s.filtered_to_iter() {
        v.push("iterators only".to_string());
    }
    if s.dev_bound() {
        v.push("device-bound programs only".to_string());
    }
    v.join(", ")
}

/// The version's built-in table.
fn kfunc_table(version: Version) {
    use btf_match::btf_ids::flag_names;
    say!("kernel {version} kfunc sets (register_btf_kfunc_id_set):");
    for s in btf_match::progs::kfunc_sets(version) {
        say!(
            "set8 {} ({} entries, {}): {}",
            s.name,
            s.entries.len(),
            s.file,
            prog_types_text(version, s.name)
        );
        for (name, flags) in s.entries {
            say!("  {name} flags {flags:#x} {}", flag_names(*flags));
        }
    }
}

fn kfuncs(path: Option<&str>, kernel: Option<&str>) -> Result<bool, String> {
    use btf_match::btf_ids::{check_set8_entry, flag_names, BtfIds};
    let version = kernel.map(Version::parse).transpose().map_err(|e| e.0)?;
    let Some(path) = path else {
        kfunc_table(version.unwrap_or(Version::V6_18));
        return Ok(true);
    };
    let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let btf = btf::parse_any(&data, None).map_err(|e| format!("{path}: {e}"))?;
    let version = version.unwrap_or_else(|| Version::from_kernel_btf(&btf, &NameIndex::new(&btf)));
    let ids = BtfIds::read(&data).map_err(|e| format!("{path}: {e}"))?;
    let mut ok = true;
    for set in &ids.sets {
        say!(
            "set8 {} ({} entries, flags {:#x}; program types ({version}): {})",
            set.name,
            set.entries.len(),
            set.flags,
            prog_types_text(version, &set.name)
        );
        for (i, e) in set.entries.iter().enumerate() {
            let o = set.offset + 8 + 8 * i as u64;
            let check = match check_set8_entry(&btf, &set.name, i as u64, o, e.id) {
                Ok(()) => String::new(),
                Err(m) => {
                    ok = false;
                    format!("  BAD: {m}")
                }
            };
            // resolve_btfids sorts a set8's {id, flags} pairs by id, so the
            // slot's symbol need not name the entry: the id's BTF name does.
            let name = match btf.name_of(TypeId(e.id)) {
                "" => e.name.as_str(),
                n => n,
            };
            say!(
                "  [{}] {name} flags {:#x} {}{check}",
                e.id,
                e.flags,
                flag_names(e.flags)
            );
        }
    }
    for p in &ids.dtors {
        let check = match btf_match::check_dtor_shape(&btf, TypeId(p.struct_id), TypeId(p.func_id))
        {
            Ok(()) => "ok".to_string(),
            Err(m) => {
                ok = false;
                format!("BAD: {m}")
            }
        };
        say!(
            "dtor {}: struct {} [{}] -> {} [{}]: {check}",
            p.list,
            p.struct_name,
            p.struct_id,
            p.func_name,
            p.func_id
        );
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let res = match &cli.cmd {
        Cmd::MapValue {
            btf,
            type_name,
            map_type,
            map_flags,
            kernel_btf,
            kernel,
        } => map_value(
            btf,
            type_name,
            map_type,
            map_flags,
            kernel_btf,
            kernel.as_deref(),
        ),
        Cmd::Kfuncs { vmlinux, kernel } => kfuncs(vmlinux.as_deref(), kernel.as_deref()),
    };
    match res {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("btf-match: {e}");
            ExitCode::from(2)
        }
    }
}
