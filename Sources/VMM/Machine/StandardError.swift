import EventLoop

/// Writes `text` to standard error at once (for failures on the machine's own threads, which
/// have no caller to throw to).
func writeStandardError(_ text: String) {
    _ = DescriptorIO.writeAll(2, Array(text.utf8))
}
