import Foundation
import Testing

/// Every relative link in the repository's Markdown (README.md, docs/, firmware/README.md, the
/// other READMEs) leads to a file that exists, and every `#anchor` into a Markdown file names one
/// of its headings, by GitHub's rules. Web links are not fetched.
@Suite struct DocumentationLinkTests {
    @Test func everyRelativeLinkAndAnchorResolves() throws {
        let root = SwiftVMMBinary.repositoryRoot
        let documents = MarkdownLinks.documents(in: root)
        let names = Set(documents.map { $0.path.dropFirst(root.path.count + 1) })
        for expected in ["README.md", "docs/README.md", "firmware/README.md"] {
            #expect(names.contains(Substring(expected)), "\(expected) was not checked: \(names.sorted())")
        }
        let problems = MarkdownLinks.problems(in: documents, root: root)
        #expect(problems.isEmpty, "\(problems.map(\.description).joined(separator: "\n"))")
    }

    /// The checker finds a missing file, a missing anchor in another page and in the same page,
    /// and ignores links in code.
    @Test func aBrokenLinkOrAnchorIsFound() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("doc-links-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("docs"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let readme = """
            # Title

            See [the page](docs/page.md#the-2nd-part-run), [missing](docs/missing.md),
            [bad anchor](docs/page.md#no-such-heading), [here](#title) and [not here](#nowhere).
            `[in code](nowhere.md)` and a [web link](https://example.com/x.md).

            ```
            [in a block](nowhere.md)
            ```
            """
        let page = """
            # Page

            ## The 2nd part: `run`!

            ## Page
            """
        try Data(readme.utf8).write(to: root.appendingPathComponent("README.md"))
        try Data(page.utf8).write(to: root.appendingPathComponent("docs/page.md"))
        let problems = MarkdownLinks.problems(in: MarkdownLinks.documents(in: root), root: root)
        #expect(problems.map(\.link).sorted() == ["#nowhere", "docs/missing.md", "docs/page.md#no-such-heading"])
        #expect(MarkdownLinks.anchors(in: page) == ["page", "the-2nd-part-run", "page-1"])
    }

    @Test func headingsBecomeGitHubAnchors() {
        #expect(
            MarkdownLinks.slug("Observability: /healthz, /readyz, /metrics") == "observability-healthz-readyz-metrics")
        #expect(MarkdownLinks.slug("Run it in Kubernetes: `swiftvmm launch`") == "run-it-in-kubernetes-swiftvmm-launch")
        #expect(MarkdownLinks.slug("The virtio-rng self-test (`fw.test=rng`)") == "the-virtio-rng-self-test-fwtestrng")
        #expect(MarkdownLinks.slug("Disks (virtio-blk)") == "disks-virtio-blk")
        #expect(MarkdownLinks.slug("memory_mib and [the link](x.md)") == "memory_mib-and-the-link")
    }
}

/// Finds relative Markdown links and their anchors, and checks them.
enum MarkdownLinks {
    struct Problem: CustomStringConvertible {
        let file: String
        let line: Int
        let link: String
        let reason: String
        var description: String { "\(file):\(line): \(link): \(reason)" }
    }

    /// Every `*.md` under `root`, outside hidden folders (`.build`, `.git`) and DocC catalogs
    /// (whose links are DocC's, not Markdown's).
    static func documents(in root: URL) -> [URL] {
        guard
            let walker = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles])
        else { return [] }
        var found: [URL] = []
        for case let url as URL in walker {
            if url.pathExtension == "docc" || url.lastPathComponent.hasPrefix(".") {
                walker.skipDescendants()
            } else if url.pathExtension == "md" {
                found.append(url.standardizedFileURL)
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    /// The problems of every relative link in `documents`.
    static func problems(in documents: [URL], root: URL) -> [Problem] {
        var anchorCache: [String: Set<String>] = [:]
        func anchors(of file: URL) -> Set<String>? {
            if let cached = anchorCache[file.path] { return cached }
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
            let found = Self.anchors(in: text)
            anchorCache[file.path] = found
            return found
        }
        var problems: [Problem] = []
        for document in documents {
            guard let text = try? String(contentsOf: document, encoding: .utf8) else { continue }
            let name = String(document.path.dropFirst(root.standardizedFileURL.path.count + 1))
            for (line, link) in links(in: text) {
                func problem(_ reason: String) {
                    problems.append(Problem(file: name, line: line, link: link, reason: reason))
                }
                if link.contains("://") || link.hasPrefix("mailto:") { continue }
                let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                let path = String(parts[0]).removingPercentEncoding ?? String(parts[0])
                let anchor = parts.count > 1 ? String(parts[1]) : nil
                let target: URL
                if path.isEmpty {
                    target = document
                } else if path.hasPrefix("/") {
                    target = root.appendingPathComponent(String(path.dropFirst())).standardizedFileURL
                } else {
                    target = document.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL
                }
                guard FileManager.default.fileExists(atPath: target.path) else {
                    problem("no such file or directory")
                    continue
                }
                guard let anchor, target.pathExtension == "md" else { continue }
                if !(anchors(of: target) ?? []).contains(anchor.lowercased()) {
                    problem("no heading with this anchor in \(target.lastPathComponent)")
                }
            }
        }
        return problems
    }

    /// Lines of `text` outside fenced code blocks, with their numbers (from 1).
    private static func proseLines(_ text: String) -> [(Int, Substring)] {
        var lines: [(Int, Substring)] = []
        var fence: Substring?
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == " " }
            if let open = fence {
                if trimmed.hasPrefix(open) { fence = nil }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                fence = trimmed.prefix { $0 == trimmed.first }
                continue
            }
            lines.append((index + 1, line))
        }
        return lines
    }

    /// `line` with its inline code spans blanked out.
    private static func withoutCode(_ line: Substring) -> String {
        var result = ""
        var inCode = false
        for character in line {
            if character == "`" {
                inCode.toggle()
                result.append(" ")
            } else {
                result.append(inCode ? " " : character)
            }
        }
        return result
    }

    /// The targets of inline links and images, `[text](target)` and `![alt](target "title")`,
    /// and of reference definitions, `[name]: target`, outside code.
    static func links(in text: String) -> [(line: Int, target: String)] {
        let inline = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/
        let reference = /^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/
        var found: [(line: Int, target: String)] = []
        for (number, line) in proseLines(text) {
            let prose = withoutCode(line)
            for match in prose.matches(of: inline) { found.append((number, String(match.output.1))) }
            if let match = prose.firstMatch(of: reference) { found.append((number, String(match.output.1))) }
        }
        return found
    }

    /// The anchors of `text`'s headings (ATX headings outside code blocks), numbered `-1`,
    /// `-2`, … when a heading's anchor repeats, as GitHub does.
    static func anchors(in text: String) -> Set<String> {
        var anchors: Set<String> = []
        var counts: [String: Int] = [:]
        for (_, line) in proseLines(text) {
            let trimmed = line.drop { $0 == " " }
            let level = trimmed.prefix { $0 == "#" }.count
            guard (1...6).contains(level), trimmed.dropFirst(level).first == " " else { continue }
            var heading = String(trimmed.dropFirst(level).drop { $0 == " " })
            while heading.hasSuffix("#") || heading.hasSuffix(" ") { heading.removeLast() }
            let base = slug(heading)
            let seen = counts[base, default: 0]
            counts[base] = seen + 1
            anchors.insert(seen == 0 ? base : "\(base)-\(seen)")
        }
        return anchors
    }

    /// GitHub's anchor for a heading: its text (links by their text, code without its
    /// backticks), lowercased, every character but letters, digits, `_`, `-` and spaces
    /// dropped, each space a `-`.
    static func slug(_ heading: String) -> String {
        let text = heading.replacing(/\[([^\]]*)\]\([^)]*\)/) { String($0.output.1) }
        var slug = ""
        for character in text.lowercased() {
            if character == " " {
                slug.append("-")
            } else if character.isLetter || character.isNumber || character == "_" || character == "-" {
                slug.append(character)
            }
        }
        return slug
    }
}
