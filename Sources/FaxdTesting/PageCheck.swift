import Fax

/// Compares a received TIFF with the document that was sent, page by page.
public enum PageCheck {
    /// Returns a list of problems; empty when every page decodes to the same bitmap.
    public static func compare(sent: String, received: String) -> [String] {
        do {
            let a = try TIFFDocument(path: sent).pages()
            let b = try TIFFDocument(path: received).pages()
            var problems: [String] = []
            if a.count != b.count { problems.append("sent \(a.count) pages, received \(b.count)") }
            for (index, (x, y)) in zip(a, b).enumerated() {
                if x.width != y.width || x.height != y.height {
                    problems.append("page \(index + 1): \(x.width)x\(x.height) sent, \(y.width)x\(y.height) received")
                }
                let differing = x.differingRows(from: y)
                if differing > 0 { problems.append("page \(index + 1): \(differing) rows differ") }
            }
            return problems
        } catch {
            return ["\(error)"]
        }
    }
}

/// Page count of a TIFF, for tests.
public enum TIFFPageCount {
    public static func of(_ path: String) throws -> Int { try TIFFDocument(path: path).pageCount }
}
