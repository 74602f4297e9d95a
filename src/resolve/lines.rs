//! Line numbers for the parsed sources of the import closures: the Python and JavaScript
//! parsers give byte offsets, findings give `file:line`.

/// Byte offsets of line starts, to turn an offset into its (1-based) line.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(source: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(
                source
                    .bytes()
                    .enumerate()
                    .filter(|(_, byte)| *byte == b'\n')
                    .map(|(index, _)| index + 1),
            )
            .collect();
        LineIndex { starts }
    }

    pub(crate) fn line(&self, offset: usize) -> u32 {
        let index = self.starts.partition_point(|start| *start <= offset);
        u32::try_from(index).unwrap_or(u32::MAX)
    }
}
