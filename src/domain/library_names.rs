//! What a file's name alone says the loader or a runtime opens it as: a shared object
//! (`libx.so`, `libx.so.1.2`), which the dynamic loader finds on its search path, or a Node.js
//! addon (`x.node`), which `require` opens by its path with `dlopen`.
//!
//! Which binaries count as loaded (`domain::placement`), which ELF files are programs rather
//! than libraries (`inspect`) and which stray files belong in `lib/` (`LAY001`) all ask here.

/// `libx.so`, `libx.so.1.2`: a name the dynamic loader opens.
pub(crate) fn is_shared_object_name(name: &str) -> bool {
    name.ends_with(".so") || name.contains(".so.")
}

/// `x.node`: a Node.js addon, a shared object `require` opens by its path.
pub(crate) fn is_node_addon_name(name: &str) -> bool {
    name.ends_with(".node")
}

/// A shared object or a Node.js addon: a name something on Lambda opens as a library.
pub(crate) fn is_library_name(name: &str) -> bool {
    is_shared_object_name(name) || is_node_addon_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        for name in [
            "libx.so",
            "libx.so.1",
            "libx.so.1.2.3",
            "_x.cpython-312-x86_64-linux-gnu.so",
        ] {
            assert!(is_shared_object_name(name), "{name}");
            assert!(is_library_name(name), "{name}");
        }
        assert!(is_node_addon_name("sharp.node"));
        assert!(!is_shared_object_name("sharp.node"));
        assert!(is_library_name("sharp.node"));
        for name in ["x.py", "solver", "x.sources", "node"] {
            assert!(!is_library_name(name), "{name}");
        }
    }
}
