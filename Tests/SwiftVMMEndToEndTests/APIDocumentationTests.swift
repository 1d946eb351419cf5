import Foundation
import Testing
import VMM

/// The library's documentation agrees with its code: docs/library.md lists every public
/// top-level type of the VMM product (and the count it states), every `MachineError` code, and
/// the catalog's topics name every public type.
@Suite struct APIDocumentationTests {
    /// The public top-level types declared in Sources/VMM (a declaration at the start of a line).
    static func publicTypes(root: URL) throws -> Set<String> {
        let sources = root.appendingPathComponent("Sources/VMM")
        var names: Set<String> = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        let pattern = try NSRegularExpression(
            pattern: #"^public (?:final )?(?:class|struct|enum|protocol|actor) ([A-Za-z0-9_]+)"#,
            options: .anchorsMatchLines)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            let range = NSRange(text.startIndex..., in: text)
            for match in pattern.matches(in: text, range: range) {
                if let name = Range(match.range(at: 1), in: text) { names.insert(String(text[name])) }
            }
        }
        return names
    }

    @Test func theLibraryPageListsEveryPublicType() throws {
        let root = SwiftVMMBinary.repositoryRoot
        let types = try Self.publicTypes(root: root)
        #expect(types.count > 20, "the scan found \(types.count) types")
        let page = try String(contentsOf: root.appendingPathComponent("docs/library.md"), encoding: .utf8)
        let contract = try #require(page.components(separatedBy: "## The contract").dropFirst().first)
        let listStart = try #require(contract.range(of: "top-level types in all ("))
        let list = contract[listStart.upperBound...].prefix { $0 != ")" }
        let listed = Set(list.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element))
        #expect(
            listed == types,
            "missing: \(types.subtracting(listed).sorted()); extra: \(listed.subtracting(types).sorted())")
        #expect(contract.contains(" — \(types.count) top-level types in all ("), "the stated count")
        let catalog = try String(
            contentsOf: root.appendingPathComponent("Sources/VMM/VMM.docc/VMM.md"), encoding: .utf8)
        let inCatalog = types.filter { catalog.contains("``\($0)``") }
        #expect(inCatalog.count >= types.count - 8, "catalog topics lack: \(types.subtracting(inCatalog).sorted())")
    }

    @Test func theLibraryPageListsEveryErrorCode() throws {
        let root = SwiftVMMBinary.repositoryRoot
        let page = try String(contentsOf: root.appendingPathComponent("docs/library.md"), encoding: .utf8)
        let errors = try #require(page.components(separatedBy: "## Errors").dropFirst().first)
        let codes = MachineError.Code.allCases.map(\.rawValue)
        #expect(errors.contains("\(codes.count) of them"))
        for code in codes { #expect(errors.contains("`\(code)`"), "\(code) is not in docs/library.md") }
    }
}
