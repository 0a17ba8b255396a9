import Fax
import FaxdTesting
import Foundation
import ChildProcess
import Testing

/// Fax TIFF to PDF: every page of every coding must render back, at the TIFF's own pixel grid,
/// to exactly the TIFF's bitmap; pages that can be embedded as they are must be, byte for byte.
@Suite struct FaxPDFTests {
    /// One TIFF to convert, made from the committed fixture by a command-line tool.
    struct Variant: Sendable, CustomTestStringConvertible {
        var name: String
        /// Tool and arguments; `IN` and `OUT` are replaced by the source and the made TIFF.
        var command: [String]
        /// The source: the fine TIFF fixture or its PostScript.
        var source: String = Fixtures.threePageFine
        /// Expected coding of every page.
        var coding: FaxCodedPage.Coding
        /// True when the pages must be embedded as stored (no re-encoding).
        var raw: Bool = true
        var dpi: (x: Double, y: Double) = (204, 196)
        /// Also render page 1 with pdftoppm at four times the dpi (0.3 s a fine page, so only some).
        var pdftoppm = false
        var testDescription: String { name }

        static let all: [Variant] = [
            Variant(name: "T.6 fixture as committed", command: [], coding: .t6),
            Variant(name: "T.6, LSB-first fill order", command: ["tiffcp", "-c", "g4", "-f", "lsb2msb", "IN", "OUT"], coding: .t6),
            Variant(name: "T.4 1-D", command: ["tiffcp", "-c", "g3:1d", "IN", "OUT"], coding: .t4OneDimensional),
            Variant(name: "T.4 1-D with fill bits", command: ["tiffcp", "-c", "g3:1d:fill", "IN", "OUT"],
                    coding: .t4OneDimensional),
            Variant(name: "T.4 2-D", command: ["tiffcp", "-c", "g3:2d", "IN", "OUT"], coding: .t4TwoDimensional),
            // Byte for byte what spandsp 0.0.6 writes for a received fax (libtiff encodes both).
            Variant(name: "T.4 2-D with fill bits, LSB first (spandsp's layout)",
                    command: ["tiffcp", "-c", "g3:2d:fill", "-f", "lsb2msb", "IN", "OUT"],
                    coding: .t4TwoDimensional),
            Variant(name: "T.6 in 64-row strips", command: ["tiffcp", "-c", "g4", "-r", "64", "IN", "OUT"], coding: .t6, raw: false),
            Variant(name: "T.4 2-D in 64-row strips", command: ["tiffcp", "-c", "g3:2d", "-r", "64", "IN", "OUT"], coding: .t6, raw: false),
            Variant(name: "uncompressed", command: ["tiffcp", "-c", "none", "IN", "OUT"], coding: .t6, raw: false),
            Variant(name: "standard resolution 204x98, T.4 2-D (Ghostscript)",
                    command: ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiffg32d", "-r204x98",
                              "-g1728x1078", "-sOutputFile=OUT", "IN"],
                    source: Fixtures.path("three-page-fine.ps"), coding: .t4TwoDimensional, dpi: (204, 98),
                    pdftoppm: true),
            Variant(name: "superfine 204x391, T.4 1-D with fill bits (Ghostscript)",
                    command: ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiffg3", "-r204x391",
                              "-g1728x4312", "-sOutputFile=OUT", "IN"],
                    source: Fixtures.path("three-page-fine.ps"), coding: .t4OneDimensional, dpi: (204, 391)),
            // 0 is black: the codes' black runs are white paper, so the PDF needs /BlackIs1 true.
            Variant(name: "MinIsBlack", command: ["sh", "-c", "cp IN OUT && for d in 0 1 2; do tiffset -d $d -s 262 1 OUT; done"], coding: .t6),
            Variant(name: "resolution in centimetres",
                    command: ["sh", "-c", "cp IN OUT && for d in 0 1 2; do tiffset -d $d -s 296 3 OUT && tiffset -d $d -s 282 80.314960 OUT && tiffset -d $d -s 283 77.165354 OUT; done"],
                    coding: .t6),
        ]
    }

    @Test(arguments: Variant.all)
    func pagesRenderBackBitIdentical(_ variant: Variant) throws {
        let dir = Fixtures.scratchDirectory("pdf")
        var tiff = variant.source
        if !variant.command.isEmpty {
            tiff = dir + "/in.tif"
            let args = variant.command.map { $0.replacingOccurrences(of: "IN", with: variant.source).replacingOccurrences(of: "OUT", with: tiff) }
            let made = try Tool.run(args[0], Array(args.dropFirst()))
            try #require(made.status == 0, "\(args.joined(separator: " ")): \(made.stderr)")
        }
        let document = try TIFFDocument(path: tiff)
        let coded = try document.codedPages()
        try #require(coded.count == 3)
        for (index, page) in coded.enumerated() {
            #expect(page.coding == variant.coding, "page \(index + 1)")
            #expect((page.origin == .rawStrip) == variant.raw, "page \(index + 1): \(page.origin)")
            #expect(abs(page.xDPI - variant.dpi.x) < 0.01 && abs(page.yDPI - variant.dpi.y) < 0.01,
                    "page \(index + 1): \(page.xDPI)x\(page.yDPI) dpi")
        }
        let pdf = dir + "/out.pdf"
        try FaxPDF.write(document, to: pdf)
        try checkConverted(tiff: tiff, pdf: pdf, variant: variant, coded: coded)
    }

    /// A fax as faxd really receives it: sent by one spandsp terminal to another (T.6 over ECM)
    /// and written by spandsp; the PDF embeds the received T.4 data unchanged.
    @Test func receivedFaxConvertsLosslessly() throws {
        let dir = Fixtures.scratchDirectory("pdf-rx")
        let rx = dir + "/rx.tif"
        let sender = try AudioFaxTerminal(job: .send(path: Fixtures.threePageFine), callingParty: true, options: FaxOptions())
        let receiver = try AudioFaxTerminal(job: .receive(path: rx), callingParty: false, options: FaxOptions())
        let outcome = AudioBackToBack.run(sender: sender, receiver: receiver)
        try #require(outcome.receiver.result == .ok && outcome.receiver.pagesTransferred == 3)
        let document = try TIFFDocument(path: rx)
        let coded = try document.codedPages()
        #expect(coded.allSatisfy { $0.origin == .rawStrip && $0.coding == .t4TwoDimensional && $0.fillBits })
        let pdf = dir + "/rx.pdf"
        try FaxPDF.write(document, to: pdf)
        try checkConverted(tiff: rx, pdf: pdf, variant: Variant(name: "received", command: [], coding: .t4TwoDimensional, pdftoppm: true),
                           coded: coded)
    }

    @Test func failedWriteLeavesNoFileBehind() throws {
        let dir = Fixtures.scratchDirectory("pdf-fail")
        let document = try TIFFDocument(path: Fixtures.threePageFine)
        #expect { try FaxPDF.write(document, to: dir + "/missing/out.pdf") }
            throws: { ($0 as? FaxError)?.code == .destinationUnwritable && "\($0)".contains("missing/out.pdf") }
        // Replacing an existing file is atomic; no temporary file stays beside it.
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/out.pdf"))
        try FaxPDF.write(document, to: dir + "/out.pdf")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.pdf"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/out.pdf")).starts(with: Data("%PDF-1.4\n".utf8)))
    }

    @Test func pageBeyondTheEndIsNamed() throws {
        let document = try TIFFDocument(path: Fixtures.threePageFine)
        #expect { _ = try document.codedPage(3) } throws: { "\($0)".contains("has no page 4 (it has 3)") }
    }

    /// pdfinfo's page count and sizes, the xref, the image streams against the TIFF's strips, then
    /// every page decoded by poppler and Ghostscript compared with the TIFF's decoded bitmap.
    private func checkConverted(tiff: String, pdf: String, variant: Variant, coded: [FaxCodedPage]) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: pdf)))
        let info = try Tool.run("pdfinfo", ["-f", "1", "-l", "99", pdf])
        #expect(info.status == 0 && info.stderr.isEmpty, "pdfinfo: \(info.stderr)")
        let lines = info.stdout.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(lines.contains(["Pages:", "\(coded.count)"]), "\(info.stdout)")
        for (index, page) in coded.enumerated() {
            // "Page    1 size:  609.882 x 792 pts": 72 points per inch, to pdfinfo's 6 digits.
            let w = Double(page.width) * 72 / page.xDPI, h = Double(page.height) * 72 / page.yDPI
            let size = lines.first { $0.count == 7 && $0[0] == "Page" && $0[1] == "\(index + 1)" && $0[2] == "size:" }
            let reported = size.flatMap { line in Double(line[3]).flatMap { x in Double(line[5]).map { (x, $0) } } }
            #expect(reported.map { abs($0.0 - w) < 0.001 && abs($0.1 - h) < 0.001 } == true,
                    "page \(index + 1) should be \(w) x \(h) pts: \(info.stdout)")
        }

        let parsed = try PDFFile(bytes)
        #expect(parsed.xrefProblems.isEmpty, "\(parsed.xrefProblems)")
        try #require(parsed.images.count == coded.count)
        let strips = try TIFFStrips.of(tiff)
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: tiff)))
        for (index, (image, page)) in zip(parsed.images, coded).enumerated() {
            #expect(image.data == page.bytes, "page \(index + 1): image stream is not the coded page")
            #expect(image.dictionary.contains("/K \(page.k) "), "\(image.dictionary)")
            if variant.raw {
                // Independent of the code under test: the strip's bytes as tiffdump locates them.
                let strip = strips[index]
                var stored = Array(file[strip.offset..<(strip.offset + strip.count)])
                if strip.lsbFirst { stored = stored.map(\.bitReversed) }
                #expect(image.data == stored, "page \(index + 1): image stream is not the TIFF strip")
            }
        }

        // Three decoders, each compared bit for bit with libtiff's decoding of the TIFF: poppler's
        // CCITTFaxDecode alone (pdfimages), Ghostscript's whole page at the TIFF's dpi, and for
        // some variants poppler's whole page (pdftoppm). pdftoppm at the TIFF's own dpi smooths
        // 1-bit images even at 1:1 (it renders the committed fixture with ~100 rows off by edge
        // pixels while Ghostscript and pdfimages match exactly); from 4x up it replicates pixels,
        // so it renders at 4x and every 4th pixel is compared.
        let expected = try TIFFDocument(path: tiff).pages()
        let dpi = (coded[0].xDPI, coded[0].yDPI)
        var decoded = [("pdfimages", try Render.images(pdf)), ("gs", try Render.ghostscript(pdf, dpi: dpi))]
        if variant.pdftoppm { decoded.append(("pdftoppm at 4x", [try Render.pdftoppmFirstPage(pdf, dpi: dpi)])) }
        for (decoder, pages) in decoded {
            try #require(pages.count == expected.count || decoder.hasPrefix("pdftoppm"), "\(decoder) gave \(pages.count) pages")
            for (index, (a, b)) in zip(expected, pages).enumerated() {
                #expect(a.width == b.width && a.height == b.height,
                        "\(decoder) page \(index + 1): \(b.width)x\(b.height), TIFF \(a.width)x\(a.height)")
                let differing = b.differingRows(from: a)
                #expect(differing == 0, "\(decoder) page \(index + 1): \(differing) rows differ")
                #expect(a.blackPixels > 1000, "page \(index + 1) has content")
            }
        }
    }
}

/// Runs a command-line tool found on PATH and collects its output.
private enum Tool {
    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run(tool, arguments)
    }
}

/// A rendered page: packed rows, 1 = black, padding bits cleared (FaxPageImage's layout).
private struct Bitmap {
    var width: Int
    var height: Int
    var bits: [UInt8]
    var rowBytes: Int { (width + 7) / 8 }

    /// Rows that differ from the TIFF's page (all of them when the sizes differ).
    func differingRows(from page: FaxPageImage) -> Int {
        guard width == page.width, height == page.height, bits.count == page.bits.count else { return max(height, page.height) }
        return bits.withUnsafeBytes { a in
            page.bits.withUnsafeBytes { b in
                (0..<height).reduce(0) { $0 + (memcmp(a.baseAddress! + $1 * rowBytes, b.baseAddress! + $1 * rowBytes, rowBytes) == 0 ? 0 : 1) }
            }
        }
    }
}

/// Decodes a PDF's pages or images to PBM with poppler or Ghostscript and reads them back.
private enum Render {
    /// Each image XObject as poppler's filters decode it (pdfimages writes 1-bit images as PBM).
    static func images(_ pdf: String) throws -> [Bitmap] {
        let dir = Fixtures.scratchDirectory("pdfimages")
        try check(Tool.run("pdfimages", [pdf, dir + "/image"]), "pdfimages")
        return try pbms(in: dir)
    }

    /// Every page rendered by Ghostscript at `dpi`: one device pixel per image pixel.
    static func ghostscript(_ pdf: String, dpi: (Double, Double)) throws -> [Bitmap] {
        let dir = Fixtures.scratchDirectory("gs")
        try check(Tool.run("gs", ["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pbmraw",
                                  "-r\(Int(dpi.0.rounded()))x\(Int(dpi.1.rounded()))",
                                  "-sOutputFile=\(dir)/page-%03d.pbm", pdf]), "gs")
        return try pbms(in: dir)
    }

    /// Page 1 rendered by pdftoppm at 4x `dpi`, sampled at the second pixel of each 4x4 block.
    static func pdftoppmFirstPage(_ pdf: String, dpi: (Double, Double)) throws -> Bitmap {
        let dir = Fixtures.scratchDirectory("pdftoppm")
        try check(Tool.run("pdftoppm", ["-mono", "-f", "1", "-l", "1", "-rx", String(Int(dpi.0.rounded()) * 4),
                                        "-ry", String(Int(dpi.1.rounded()) * 4), pdf, dir + "/page"]), "pdftoppm")
        guard let big = try pbms(in: dir).first else { throw RenderError(message: "pdftoppm wrote no page") }
        let width = big.width / 4, height = big.height / 4
        let rowBytes = (width + 7) / 8, bigRowBytes = big.rowBytes
        var bits = [UInt8](repeating: 0, count: rowBytes * height)
        // Source pixel k of a row is rendered pixel 4k+1: bit 6 or bit 2 of rendered byte k/2,
        // so output byte j gathers two bits from each of rendered bytes 4j...4j+3.
        big.bits.withUnsafeBufferPointer { from in
            bits.withUnsafeMutableBufferPointer { to in
                for y in 0..<height {
                    let source = (4 * y + 1) * bigRowBytes, target = y * rowBytes
                    for j in 0..<rowBytes {
                        var byte: UInt8 = 0
                        for i in 0..<4 where 4 * j + i < bigRowBytes {
                            let b = from[source + 4 * j + i]
                            byte |= ((b & 0x40) << 1) >> (2 * i) | ((b & 0x04) << 4) >> (2 * i)
                        }
                        to[target + j] = byte
                    }
                    if width % 8 != 0 { to[target + rowBytes - 1] &= UInt8(0xFF << (8 - width % 8) & 0xFF) }
                }
            }
        }
        return Bitmap(width: width, height: height, bits: bits)
    }

    private static func check(_ result: (status: Int32, stdout: String, stderr: String), _ tool: String) throws {
        guard result.status == 0, result.stderr.isEmpty else {
            throw RenderError(message: "\(tool) failed (\(result.status)): \(result.stderr)")
        }
    }

    private static func pbms(in dir: String) throws -> [Bitmap] {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".pbm") }.sorted()
        return try files.map { try pbm([UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)))) }
    }

    struct RenderError: Error, CustomStringConvertible { var message: String; var description: String { message } }

    /// Parses a binary PBM (P4): header "P4 width height" and packed rows, 1 = black.
    static func pbm(_ bytes: [UInt8]) throws -> Bitmap {
        var position = 0
        func token() -> String {
            var text = ""
            while position < bytes.count {
                let c = bytes[position]
                if c == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 0x0A { position += 1 }
                } else if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                    if !text.isEmpty { break }
                    position += 1
                } else {
                    text.append(Character(UnicodeScalar(c)))
                    position += 1
                }
            }
            return text
        }
        guard token() == "P4", let width = Int(token()), let height = Int(token()) else {
            throw RenderError(message: "not a binary PBM")
        }
        position += 1  // the single whitespace before the raster
        let rowBytes = (width + 7) / 8
        guard bytes.count - position >= rowBytes * height else { throw RenderError(message: "PBM raster is short") }
        var bits = Array(bytes[position..<(position + rowBytes * height)])
        if width % 8 != 0 {
            for row in 0..<height { bits[row * rowBytes + rowBytes - 1] &= UInt8(0xFF << (8 - width % 8) & 0xFF) }
        }
        return Bitmap(width: width, height: height, bits: bits)
    }
}

/// Where each page's single strip lies in a TIFF, as `tiffdump` reports it.
private enum TIFFStrips {
    struct Strip { var offset: Int; var count: Int; var lsbFirst: Bool }

    static func of(_ path: String) throws -> [Strip] {
        let dump = try Tool.run("tiffdump", [path])
        var strips: [Strip] = []
        func values(_ line: Substring) -> [Int] {
            guard let open = line.firstIndex(of: "<"), let close = line.lastIndex(of: ">") else { return [] }
            return line[line.index(after: open)..<close].split(separator: " ").compactMap { Int($0) }
        }
        for line in dump.stdout.split(separator: "\n") {
            if line.hasPrefix("Directory ") { strips.append(Strip(offset: -1, count: -1, lsbFirst: false)) }
            guard !strips.isEmpty else { continue }
            if line.hasPrefix("StripOffsets ("), let v = values(line).first { strips[strips.count - 1].offset = v }
            if line.hasPrefix("StripByteCounts ("), let v = values(line).first { strips[strips.count - 1].count = v }
            if line.hasPrefix("FillOrder ("), values(line).first == 2 { strips[strips.count - 1].lsbFirst = true }
        }
        return strips
    }
}

/// Just enough of a PDF reader for files FaxPDF writes: checks every xref entry points at its
/// object and collects the image XObjects' stream data in file order.
private struct PDFFile {
    struct Image { var dictionary: String; var data: [UInt8] }
    var images: [Image] = []
    var xrefProblems: [String] = []

    init(_ bytes: [UInt8]) throws {
        func ascii(_ from: Int, _ count: Int) -> String {
            String(decoding: bytes[max(0, min(from, bytes.count))..<max(0, min(from + count, bytes.count))], as: UTF8.self)
        }
        let tail = ascii(bytes.count - 64, 64)
        guard let start = tail.range(of: "startxref\n"), let xref = Int(tail[start.upperBound...].prefix { $0.isNumber }) else {
            throw Render.RenderError(message: "no startxref in the last 64 bytes")
        }
        let head = ascii(xref, 64).split(separator: "\n")
        guard head.count >= 2, head[0] == "xref", let size = Int(head[1].split(separator: " ").last ?? "") else {
            throw Render.RenderError(message: "startxref \(xref) does not point at an xref table")
        }
        let entries = xref + head[0].count + head[1].count + 2
        for number in 1..<size {
            let entry = ascii(entries + 20 * number, 20)
            guard entry.hasSuffix(" n \n"), let offset = Int(entry.prefix(10)) else {
                xrefProblems.append("entry \(number) is '\(entry)'")
                continue
            }
            let header = "\(number) 0 obj\n"
            guard ascii(offset, header.utf8.count) == header else {
                xrefProblems.append("object \(number) is not at \(offset)")
                continue
            }
            // The object's dictionary runs to "stream" for streams, else to "endobj"; images only.
            let body = offset + header.utf8.count
            let window = ascii(body, 600)
            guard let streamKeyword = window.range(of: "\nstream\n"),
                  !window[..<streamKeyword.lowerBound].contains("endobj"),
                  window[..<streamKeyword.lowerBound].contains("/Subtype /Image") else { continue }
            let dictionary = String(window[..<streamKeyword.lowerBound])
            guard let lengthKey = dictionary.range(of: "/Length "),
                  let length = Int(dictionary[lengthKey.upperBound...].prefix { $0.isNumber }) else {
                xrefProblems.append("image \(number) has no /Length")
                continue
            }
            let dataStart = body + window[..<streamKeyword.upperBound].utf8.count
            images.append(Image(dictionary: dictionary, data: Array(bytes[dataStart..<(dataStart + length)])))
            if ascii(dataStart + length, 10) != "\nendstream" { xrefProblems.append("image \(number): /Length is wrong") }
        }
    }
}

private extension UInt8 {
    /// The byte with its bit order reversed.
    var bitReversed: UInt8 {
        var b = self, r: UInt8 = 0
        for _ in 0..<8 { r = (r << 1) | (b & 1); b >>= 1 }
        return r
    }
}

