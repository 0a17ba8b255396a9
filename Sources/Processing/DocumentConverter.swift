import ChildProcess
import Fax
import Foundation

/// Why a document cannot be faxed, with the HTTP-ish class of the problem.
public struct DocumentError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case unsupportedType, tooLarge, tooManyPages, unreadable, conversionFailed }
    public var kind: Kind
    public var reason: String
    public var description: String { reason }
}

/// Turns an uploaded PDF or TIFF into a fax TIFF (T.6, 1728 pixels wide, 204x196 fine or 204x98
/// normal) and tells its pages. PDFs are rendered by Ghostscript (`tiffg4`, each page fitted to a
/// Letter-length fax page); TIFFs already at a fax width are used as they are, other TIFFs go
/// through `tiff2pdf` and then Ghostscript. Runs child processes: call it off the SIP thread and
/// the shards (the HTTP API does, from its own tasks).
public enum DocumentConverter {
    /// The kind of file from its first bytes.
    public enum Kind: String, Sendable { case pdf, tiff }

    /// PDF (`%PDF-`) or TIFF (`II*\0` / `MM\0*`); nil for anything else.
    public static func kind(of bytes: some Collection<UInt8>) -> Kind? {
        let head = Array(bytes.prefix(5))
        if head.starts(with: Array("%PDF-".utf8)) { return .pdf }
        if head.starts(with: [0x49, 0x49, 0x2A, 0x00]) || head.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        return nil
    }

    /// Converts `input` into a fax TIFF at `output`; returns the page count.
    public static func convert(_ input: String, to output: String, fine: Bool, maxPages: Int, timeoutSeconds: Int) async throws(DocumentError) -> Int {
        guard let handle = FileHandle(forReadingAtPath: input) else {
            throw DocumentError(kind: .unreadable, reason: "\(input): cannot read the document")
        }
        let head = (try? handle.read(upToCount: 8)) ?? Data()
        try? handle.close()
        guard let kind = kind(of: [UInt8](head)) else {
            throw DocumentError(kind: .unsupportedType, reason: "the document is neither a PDF nor a TIFF (accepted: application/pdf, image/tiff)")
        }
        var pdf = input
        var temporary: String?
        defer { if let temporary { unlink(temporary) } }
        if kind == .tiff {
            if let pages = try? FaxDocumentCheck.sendablePages(input) {
                guard pages <= maxPages else { throw tooMany(pages, maxPages) }
                if FileManager.default.fileExists(atPath: output) { unlink(output) }
                do { try FileManager.default.copyItem(atPath: input, toPath: output) } catch {
                    throw DocumentError(kind: .conversionFailed, reason: "cannot store the document: \(error)")
                }
                return pages
            }
            // Not at a fax width (or not bilevel): through PDF, so Ghostscript scales it.
            let converted = output + ".tiff2pdf.pdf"
            temporary = converted
            let result = await run("tiff2pdf", ["-o", converted, input], timeout: timeoutSeconds)
            guard result.status == 0 else {
                throw DocumentError(kind: .unreadable, reason: "the TIFF cannot be read: \(result.stderr.prefix(200))")
            }
            pdf = converted
        }
        // Count before rendering: 20,000 pages would otherwise run the whole timeout before the
        // limit is seen. Counting reads only the page tree (a fraction of a second).
        if let pages = await pageCount(pdf, timeoutSeconds: timeoutSeconds), pages > maxPages { throw tooMany(pages, maxPages) }
        let size = fine ? "-r204x196" : "-r204x98"
        let page = fine ? "-g1728x2156" : "-g1728x1078"
        let result = await run("gs", ["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiffg4", size, page, "-dPDFFitPage",
                                      "-dFIXEDMEDIA", "-sOutputFile=\(output)", pdf], timeout: timeoutSeconds)
        guard result.status == 0 else {
            unlink(output)
            throw DocumentError(kind: result.status == -2 ? .conversionFailed : .unreadable,
                                reason: result.status == -2 ? "rendering the document took longer than \(timeoutSeconds) s"
                                                            : "the PDF cannot be rendered: \(result.stderr.split(separator: "\n").first ?? "Ghostscript failed")")
        }
        let pages: Int
        do { pages = try FaxDocumentCheck.sendablePages(output) } catch {
            throw DocumentError(kind: .conversionFailed, reason: "the rendered document is not a fax TIFF: \(error.reason)")
        }
        guard pages <= maxPages else {
            unlink(output)
            throw tooMany(pages, maxPages)
        }
        return pages
    }

    /// `convert` as a result, for callers that must not throw in an async function (a Swift 6.3
    /// release-build crash).
    public static func convertResult(_ input: String, to output: String, fine: Bool, maxPages: Int, timeoutSeconds: Int) async -> Result<Int, DocumentError> {
        do { return .success(try await convert(input, to: output, fine: fine, maxPages: maxPages, timeoutSeconds: timeoutSeconds)) } catch { return .failure(error) }
    }

    /// The number of pages of a PDF, read by Ghostscript from the page tree without rendering
    /// (`runpdfbegin pdfpagecount`, which works with gs 10.0's PDF interpreter under -dSAFER when
    /// the file's directory is permitted for reading); nil when Ghostscript cannot tell.
    public static func pageCount(_ pdf: String, timeoutSeconds: Int) async -> Int? {
        let directory = (pdf as NSString).deletingLastPathComponent
        // The path goes in as a -s string (no PostScript quoting), the directory as the permitted
        // one: --permit-file-read takes a ':'-separated list, which a file name could break.
        let result = await run("gs", ["-q", "-dNODISPLAY", "-dSAFER", "-dNOPAUSE", "-dBATCH", "--permit-file-read=\(directory)/",
                                      "-sPDFFILE=\(pdf)", "-c", "PDFFILE (r) file runpdfbegin pdfpagecount = quit"],
                               timeout: timeoutSeconds, captureOutput: true)
        guard result.status == 0, let count = result.stdout.split(separator: "\n").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }),
              count > 0 else { return nil }
        return count
    }

    static func tooMany(_ pages: Int, _ limit: Int) -> DocumentError {
        DocumentError(kind: .tooManyPages, reason: "the document has \(pages) pages; at most \(limit) are accepted (http.max_pages)")
    }

    /// Renders page `page` (1-based) of a PDF as a PNG thumbnail `width` pixels wide (Ghostscript pnggray).
    public static func thumbnail(pdf: String, page: Int, to output: String, timeoutSeconds: Int) async throws(DocumentError) {
        let result = await run("gs", ["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pnggray", "-r24",
                                      "-dFirstPage=\(page)", "-dLastPage=\(page)", "-sOutputFile=\(output)", pdf], timeout: timeoutSeconds)
        guard result.status == 0, FileManager.default.fileExists(atPath: output) else {
            throw DocumentError(kind: .conversionFailed, reason: "cannot render page \(page): \(result.stderr.prefix(200))")
        }
    }

    /// Runs a tool without blocking a cooperative thread; status -1 when it cannot start, -2 on timeout.
    static func run(_ tool: String, _ arguments: [String], timeout: Int, captureOutput: Bool = false) async -> (status: Int32, stderr: String, stdout: String) {
        let child: ChildProcess
        do {
            child = try ChildProcess(tool, arguments, stdout: captureOutput ? .capture : .discard, stderr: .capture,
                                     environment: ChildProcess.minimalEnvironment)
        } catch {
            return (-1, "\(error)", "")
        }
        guard let status = await child.exit(timeout: Double(timeout)) else {
            child.signal(SIGKILL)
            child.waitUntilExit()
            return (-2, "timed out", "")
        }
        return (status, child.standardError, child.standardOutput)
    }
}
