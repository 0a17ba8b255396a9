import Foundation

/// Paths to the committed fixtures and scratch directories for tests.
public enum Fixtures {
    /// The repository root, found from this file's location (tests run from a source checkout).
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// `fixtures/NAME` in the repository.
    public static func path(_ name: String) -> String {
        root.appendingPathComponent("fixtures").appendingPathComponent(name).path
    }

    /// The 3-page fine-resolution text fixture every end-to-end test sends.
    public static var threePageFine: String { path("three-page-fine.tif") }

    /// A fresh empty directory under the system temporary directory.
    public static func scratchDirectory(_ label: String) -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("faxd-tests-\(label)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }
}
