/// Serialises a PDF 1.4 file object by object, remembering each object's byte offset for the
/// cross-reference table (PDF 1.7 §7.5 File Structure; §7.5.4 Cross-Reference Table).
struct PDFWriter {
    /// The file so far.
    private(set) var bytes: [UInt8] = []
    /// Byte offset of object `n` at index `n - 1`; 0 until the object is written.
    private var offsets: [Int]

    /// Starts a file that will hold objects 1...`objectCount` (PDF 1.7 §7.5.2 File Header).
    init(objectCount: Int, reserving capacity: Int = 0) {
        offsets = [Int](repeating: 0, count: objectCount)
        bytes.reserveCapacity(capacity + 256 * objectCount + 1024)
        append("%PDF-1.4\n")
        // A comment of bytes above 127 tells transfer tools the file is binary (§7.5.2).
        bytes.append(contentsOf: [0x25, 0xE2, 0xE3, 0xCF, 0xD3, 0x0A])
    }

    /// Appends text as ASCII/UTF-8 bytes.
    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// Writes object `number` whose body is a dictionary or other direct object (§7.3.10).
    mutating func object(_ number: Int, _ body: String) {
        begin(number)
        append(body)
        append("\nendobj\n")
    }

    /// Writes object `number` as a stream: `dictionary` gets /Length prepended (§7.3.8).
    mutating func stream(_ number: Int, dictionary: String, data: [UInt8]) {
        begin(number)
        append("<< /Length \(data.count)\(dictionary.isEmpty ? "" : " " + dictionary) >>\nstream\n")
        bytes.append(contentsOf: data)
        append("\nendstream\nendobj\n")
    }

    private mutating func begin(_ number: Int) {
        precondition(offsets[number - 1] == 0, "PDF object \(number) written twice")
        offsets[number - 1] = bytes.count
        append("\(number) 0 obj\n")
    }

    /// Appends the cross-reference table, trailer and startxref and returns the file
    /// (§7.5.4: each entry exactly 20 bytes, "nnnnnnnnnn ggggg n" and a two-byte end of line;
    /// §7.5.5 File Trailer).
    mutating func finish(root: Int, info: Int?) -> [UInt8] {
        precondition(!offsets.contains(0), "PDF objects \(offsets.indices.filter { offsets[$0] == 0 }.map { $0 + 1 }) never written")
        let xref = bytes.count
        append("xref\n0 \(offsets.count + 1)\n0000000000 65535 f \n")
        for offset in offsets { append("\(Self.padded(offset, to: 10)) 00000 n \n") }
        append("trailer\n<< /Size \(offsets.count + 1) /Root \(root) 0 R")
        if let info { append(" /Info \(info) 0 R") }
        append(" >>\nstartxref\n\(xref)\n%%EOF\n")
        return bytes
    }

    private static func padded(_ value: Int, to width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// A real number in PDF syntax: at most 4 decimals, no exponent, no trailing zeros (§7.3.3).
    static func number(_ value: Double) -> String {
        let scaled = (value * 10_000).rounded()
        guard scaled.isFinite, abs(scaled) < 1e15 else { return "0" }
        let negative = scaled < 0
        let magnitude = Int64(abs(scaled))
        var text = String(magnitude / 10_000)
        var fraction = Int(magnitude % 10_000)
        if fraction != 0 {
            var digits = 4
            while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
            text += "." + padded(fraction, to: digits)
        }
        return negative ? "-" + text : text
    }

    /// A literal string with `\`, `(` and `)` escaped (§7.3.4.2).
    static func literal(_ text: String) -> String {
        var out = "("
        for ch in text {
            if ch == "\\" || ch == "(" || ch == ")" { out.append("\\") }
            out.append(ch)
        }
        return out + ")"
    }
}
