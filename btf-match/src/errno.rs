//! The errno values the kernel returns from these checks.

/// `EPERM`.
pub const EPERM: i32 = 1;
/// `ENOENT`.
pub const ENOENT: i32 = 2;
/// `E2BIG`.
pub const E2BIG: i32 = 7;
/// `EACCES`.
pub const EACCES: i32 = 13;
/// `EFAULT`.
pub const EFAULT: i32 = 14;
/// `EEXIST`.
pub const EEXIST: i32 = 17;
/// `EINVAL`.
pub const EINVAL: i32 = 22;
/// `EOPNOTSUPP`.
pub const EOPNOTSUPP: i32 = 95;
/// `ENOTSUPP` (kernel-internal 524).
pub const ENOTSUPP: i32 = 524;

/// The symbolic name of an errno.
pub fn errno_name(e: i32) -> &'static str {
    match e {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        E2BIG => "E2BIG",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EEXIST => "EEXIST",
        EINVAL => "EINVAL",
        EOPNOTSUPP => "EOPNOTSUPP",
        ENOTSUPP => "ENOTSUPP",
        40 => "ELOOP",
        _ => "errno",
    }
}
