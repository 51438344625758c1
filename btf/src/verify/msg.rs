//! Every message the verifier writes, in one place, spelled as the kernel's
//! `kernel/bpf/btf.c` spells it (the log is compared byte for byte with the
//! kernel's in the tests). Messages with arguments are written next to their
//! use with `format_args!`; their fixed part is listed here as a comment-free
//! prefix constant where one exists.

// --- the header (btf_parse_hdr, btf_check_sec_info) ---
/// The blob is shorter than the first 8 header bytes.
pub const HDR_LEN_NOT_FOUND: &str = "hdr_len not found";
/// The blob is shorter than `hdr_len`.
pub const BTF_HEADER_NOT_FOUND: &str = "btf_header not found";
/// Header bytes past the known 24 are not all zero.
pub const UNSUPPORTED_BTF_HEADER: &str = "Unsupported btf_header";
/// `magic` is not 0xeB9F (in the machine's byte order).
pub const INVALID_MAGIC: &str = "Invalid magic";
/// `version` is not 1.
pub const UNSUPPORTED_VERSION: &str = "Unsupported version";
/// `flags` is not 0.
pub const UNSUPPORTED_FLAGS: &str = "Unsupported flags";
/// Nothing follows the header (base BTF only).
pub const NO_DATA: &str = "No data";
/// A section starts past the data.
pub const INVALID_SECTION_OFFSET: &str = "Invalid section offset";
/// A gap between sections, or data after the last one.
pub const UNSUPPORTED_SECTION_FOUND: &str = "Unsupported section found";
/// Two sections overlap.
pub const SECTION_OVERLAP_FOUND: &str = "Section overlap found";
/// A section runs past the data.
pub const TOTAL_SECTION_LENGTH_TOO_LONG: &str = "Total section length too long";

// --- the string section (btf_parse_str_sec) ---
/// The string section does not end the blob.
pub const STRING_SECTION_NOT_AT_END: &str = "String section is not at the end";
/// Empty, too long, not NUL-terminated, or (base BTF) not starting with NUL.
pub const INVALID_STRING_SECTION: &str = "Invalid string section";

// --- the type section (btf_parse_type_sec, btf_check_all_metas, btf_add_type) ---
/// `type_off` is not a multiple of 4.
pub const UNALIGNED_TYPE_OFF: &str = "Unaligned type_off";
/// An empty type section (base BTF only).
pub const NO_TYPE_FOUND: &str = "No type found";
/// More than `BTF_MAX_TYPE` types.
pub const EXCEEDED_MAX_NUM_OF_TYPES: &str = "Exceeded max num of types";

// --- every record (btf_check_meta), prefixes followed by a number ---
/// A record cut short: `meta_left:<bytes left>` ...
pub const META_LEFT: &str = "meta_left:";
/// ... ` meta_needed:<bytes needed>`.
pub const META_NEEDED: &str = " meta_needed:";
/// Reserved `info` bits set (followed by the word in hex).
pub const INVALID_BTF_INFO: &str = "Invalid btf_info:";
/// Kind 0 or above the highest known (followed by the kind).
pub const INVALID_KIND: &str = "Invalid kind:";
/// A type name offset past the strings (followed by the offset).
pub const INVALID_NAME_OFFSET: &str = "Invalid name_offset:";

// --- per-type checks (check_meta of each kind, resolve, check_member) ---
/// `vlen` must be 0 for this kind.
pub const VLEN_NOT_ZERO: &str = "vlen != 0";
/// `kind_flag` must be 0 for this kind.
pub const INVALID_KIND_FLAG: &str = "Invalid btf_info kind_flag";
/// A name that must be a C identifier (or empty, or a section name) is not.
pub const INVALID_NAME: &str = "Invalid name";
/// A referenced type id is out of range or of the wrong kind.
pub const INVALID_TYPE_ID: &str = "Invalid type_id";
/// An INT's data word has reserved bits set (prefix; followed by the word in hex).
pub const INVALID_INT_DATA: &str = "Invalid int_data:";
/// An INT's bits exceed 128 (prefix; followed by 128).
pub const NR_BITS_EXCEEDS: &str = "nr_bits exceeds ";
/// An INT's bits exceed its size.
pub const NR_BITS_EXCEEDS_TYPE_SIZE: &str = "nr_bits exceeds type_size";
/// An INT with more than one encoding bit.
pub const UNSUPPORTED_ENCODING: &str = "Unsupported encoding";
/// A FWD with a non-zero type word.
pub const TYPE_NOT_ZERO: &str = "type != 0";
/// An ARRAY with a non-zero size word.
pub const SIZE_NOT_ZERO: &str = "size != 0";
/// An ARRAY element type that is void, sizeless, or a VAR/DATASEC/DECL_TAG.
pub const INVALID_ELEM: &str = "Invalid elem";
/// An ARRAY index type that is not a regular INT.
pub const INVALID_INDEX: &str = "Invalid index";
/// An ARRAY of a bitfield-like INT.
pub const INVALID_ARRAY_OF_INT: &str = "Invalid array of int";
/// An ARRAY whose byte size overflows 32 bits.
pub const ARRAY_SIZE_OVERFLOWS: &str = "Array size overflows U32_MAX";
/// A member name offset past the strings (prefix; followed by the offset).
pub const INVALID_MEMBER_NAME_OFFSET: &str = "Invalid member name_offset:";
/// Union member at a non-zero offset, or members out of order.
pub const INVALID_MEMBER_BITS_OFFSET: &str = "Invalid member bits_offset";
/// A member starting past the struct's end.
pub const MEMBER_BITS_OFFSET_EXCEEDS: &str = "Member bits_offset exceeds its struct size";
/// A member of a type without size (void, FWD, FUNC...) or a VAR/DATASEC/DECL_TAG.
pub const INVALID_MEMBER: &str = "Invalid member";
/// A member running past the struct's end.
pub const MEMBER_EXCEEDS_STRUCT_SIZE: &str = "Member exceeds struct_size";
/// A non-bitfield member that does not start on a byte.
pub const MEMBER_NOT_BYTE_ALIGNED: &str = "Member is not byte aligned";
/// A FLOAT member off its (minimum) alignment.
pub const MEMBER_NOT_PROPERLY_ALIGNED: &str = "Member is not properly aligned";
/// A kind_flag bitfield on a non-regular INT.
pub const INVALID_MEMBER_BASE_TYPE: &str = "Invalid member base type";
/// A kind_flag member with a bad bitfield size.
pub const INVALID_MEMBER_BITFIELD_SIZE: &str = "Invalid member bitfield_size";
/// A kind_flag member of INT type, not a bitfield, off a byte boundary.
pub const INVALID_MEMBER_OFFSET: &str = "Invalid member offset";
/// An INT member's offset plus the INT's bit offset overflows.
pub const BITS_OFFSET_EXCEEDS_U32_MAX: &str = "bits_offset exceeds U32_MAX";
/// An INT member spanning more than 128 bits.
pub const NR_COPY_BITS_EXCEEDS_128: &str = "nr_copy_bits exceeds 128";
/// A member of a kind that cannot be a member (FWD, FUNC...).
pub const UNSUPPORTED_CHECK_MEMBER: &str = "Unsupported check_member";
/// The same, for a kind_flag struct.
pub const UNSUPPORTED_CHECK_KFLAG_MEMBER: &str = "Unsupported check_kflag_member";
/// A kind without a resolve step on the resolve stack.
pub const UNSUPPORTED_RESOLVE: &str = "Unsupported resolve";
/// ENUM/ENUM64 size not 1, 2, 4 or 8.
pub const UNEXPECTED_SIZE: &str = "Unexpected size";
/// An enumerator name offset past the strings (prefix; followed by the offset).
pub const INVALID_NAME_OFFSET_ENUM: &str = "\tInvalid name_offset:";
/// A FUNC_PROTO return type that is not void or sized.
pub const INVALID_RETURN_TYPE: &str = "Invalid return type";
/// A FUNC_PROTO/FUNC argument problem (prefix; followed by the 1-based index).
pub const INVALID_ARG: &str = "Invalid arg#";
/// A FUNC linkage other than static/global (extern included).
pub const INVALID_FUNC_LINKAGE: &str = "Invalid func linkage";
/// A VAR linkage other than static/global-allocated.
pub const LINKAGE_NOT_SUPPORTED: &str = "Linkage not supported";
/// A DATASEC of size 0.
pub const SIZE_IS_ZERO: &str = "size == 0";
/// A DATASEC entry's offset.
pub const INVALID_OFFSET: &str = "Invalid offset";
/// A DATASEC entry's size.
pub const INVALID_SIZE: &str = "Invalid size";
/// A DATASEC entry ending past the section.
pub const INVALID_OFFSET_PLUS_SIZE: &str = "Invalid offset+size";
/// DATASEC entries summing past the section size.
pub const INVALID_BTF_INFO_SIZE: &str = "Invalid btf_info size";
/// A DATASEC entry that is not a VAR.
pub const NOT_A_VAR_KIND_MEMBER: &str = "Not a VAR kind member";
/// A DATASEC entry whose VAR type has no size.
pub const INVALID_TYPE: &str = "Invalid type";
/// A FLOAT size other than 2, 4, 8, 12, 16.
pub const INVALID_TYPE_SIZE: &str = "Invalid type_size";
/// A DECL_TAG or TYPE_TAG without a value.
pub const INVALID_VALUE: &str = "Invalid value";
/// A DECL_TAG component index out of range.
pub const INVALID_COMPONENT_IDX: &str = "Invalid component_idx";
/// A reference chain longer than 32 (prefix; followed by 32).
pub const EXCEEDED_MAX_RESOLVING_DEPTH: &str = "Exceeded max resolving depth:";
/// A reference loop.
pub const LOOP_DETECTED: &str = "Loop detected";
/// The final consistency check of a resolved type failed.
pub const INVALID_RESOLVE_STATE: &str = "Invalid resolve state";

// --- btf_check_type_tags ---
/// A modifier chain longer than 32 or looping.
pub const MAX_CHAIN_LENGTH: &str = "Max chain length or cycle detected";
/// A TYPE_TAG after a CONST/VOLATILE/RESTRICT/TYPEDEF in a chain.
pub const TYPE_TAGS_DONT_PRECEDE: &str = "Type tags don't precede modifiers";

// --- failures the kernel does not log (our own words; the log stays empty) ---
/// `btf_size` above `BTF_MAX_SIZE` (E2BIG before the log exists).
pub const NOLOG_TOO_BIG: &str = "BTF is larger than the kernel's limit of 16 MiB (BTF_MAX_SIZE); the kernel fails with E2BIG and logs nothing";
/// btf_check_type_tags met a reference to a missing type.
pub const NOLOG_TAG_CHAIN_MISSING: &str = "a modifier refers to a type id that does not exist; the kernel fails with EINVAL and logs nothing";
/// `btf_parse_struct_metas` failed (prefix; followed by the rule that failed).
pub const NOLOG_SPECIAL_FIELDS: &str =
    "special fields (btf_parse_struct_metas) rejected, the kernel logs nothing: ";
