import AsyncHTTPClient
import Engine
import FaxdTesting
import Foundation
import HTTPAPI
import NIOCore
import NIOHTTP1
import Processing
import SIP
import Store
import Testing

/// Issue 18: uploads stream to disk, accounts have a storage quota, unused uploads expire,
/// Ghostscript's work is bounded (pages counted first, a cap on conversions, children die with
/// the daemon), and the temporary directory is emptied at start.
@Suite(.serialized) struct UploadLimitsTests {
    /// A real `faxd serve` with one account, for what lives between processes (its memory, its children).
    final class Daemon: Sendable {
        let data: String
        let http: Int
        let key: String
        let serve: FaxdProcess

        init(_ label: String, yaml: String = "") async throws {
            data = Fixtures.scratchDirectory(label)
            http = TestPorts.port()
            let sip = TestPorts.allocate()
            let config = data + "/faxd.yaml"
            try """
                trunks:
                  - { name: carrier, domain: "127.0.0.1:9" }
                processing:
                  retry: { max_attempts: 1 }
                http:
                  listen: 127.0.0.1:\(http)
                \(yaml)
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let added = try await FaxdProcess.run(["account", "add", "--number", "15551234567", "--config", config, "--data-dir", data])
            key = try #require((try JSONSerialization.jsonObject(with: Data(added.utf8)) as? [String: Any])?["api_key"] as? String)
            serve = try FaxdProcess(["serve", "--config", config, "--data-dir", data, "--sip-listen", "127.0.0.1:\(sip.sip)",
                                     "--rtp-ports", "\(sip.rtp.lowerBound)-\(sip.rtp.upperBound)"], logFile: data + "/faxd.log")
            let deadline = Date().addingTimeInterval(90)
            while Date() < deadline {
                if (try? await request(.GET, "/healthz"))?.status == 200 { return }
                try await Task.sleep(for: .milliseconds(200))
            }
            serve.signal(SIGKILL)
            Issue.record("faxd serve did not answer /healthz within 90 s")
            throw FaxdCommandError(description: "faxd serve did not start")
        }

        func request(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> HTTPReply {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(http)\(path)")
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(300))
            var buffer = try await response.body.collect(upTo: 1 << 20)
            return HTTPReply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                             body: buffer.readBytes(length: buffer.readableBytes) ?? [])
        }

        /// The daemon's peak resident memory so far (VmHWM), in KiB.
        var peakKiB: Int { Self.status(serve.pid, "VmHWM") ?? 0 }

        static func status(_ pid: Int32, _ field: String) -> Int? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
            let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") }
            return line.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
        }
    }

    /// Children of `pid` whose command is `name`, from /proc.
    static func children(of pid: Int32, named name: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"), let open = stat.firstIndex(of: "(") else { return nil }
            let comm = stat[stat.index(after: open)..<close]
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return comm == name && fields.count > 2 && Int32(fields[1]) == pid ? child : nil
        }
    }

    /// Alive (not gone, not a zombie).
    static func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    /// A "PDF" of `size` bytes: a PDF header and padding (uploads check the type from the first bytes).
    static func paddedPDF(_ size: Int) -> [UInt8] {
        let head = Array("%PDF-1.4\n".utf8)
        return head + [UInt8](repeating: 0x20, count: size - head.count)
    }

    @Test func largeUploadsStreamToDiskInsteadOfTheHeap() async throws {
        let daemon = try await Daemon("upload-memory")
        defer { daemon.serve.signal(SIGKILL) }
        // Warm up every path once (allocator arenas, NIO buffers), then measure the peak.
        let small = Self.paddedPDF(1 << 20)
        #expect(try await daemon.request(.POST, "/api/fax/files/?filename=warm.pdf", body: small).status == 201)
        let warmForm = TestAPI.multipart(fields: [], file: ("file", "warm2.pdf", "application/pdf", small))
        #expect(try await daemon.request(.POST, "/api/fax/files/", headers: [("Content-Type", warmForm.contentType)], body: warmForm.body).status == 201)
        let before = daemon.peakKiB
        let size = 19 * 1024 * 1024
        let big = Self.paddedPDF(size)
        let form = TestAPI.multipart(fields: [], file: ("file", "big-form.pdf", "application/pdf", big))
        async let raw1 = daemon.request(.POST, "/api/fax/files/?filename=big1.pdf", body: big)
        async let raw2 = daemon.request(.POST, "/api/fax/files/?filename=big2.pdf", body: big)
        async let multipart = daemon.request(.POST, "/api/fax/files/", headers: [("Content-Type", form.contentType)], body: form.body)
        let statuses = try await [raw1.status, raw2.status, multipart.status]
        #expect(statuses == [201, 201, 201], "\(statuses)")
        let growth = daemon.peakKiB - before
        print("faxd peak RSS growth for 3 concurrent 19 MB uploads: \(growth) KiB")
        // Buffered, three 19 MB bodies cost at least 57 MB (the old code held two or three copies
        // of each); streamed, the peak grows by a few NIO buffers.
        #expect(growth < 12 * 1024, "the daemon's peak RSS grew by \(growth) KiB for 3 x 19 MB uploads")
        let stored = daemon.data + "/fax_files/uploads"
        let sizes = try FileManager.default.subpathsOfDirectory(atPath: stored).filter { $0.hasSuffix(".pdf") && $0.contains("big") }
            .map { (try? FileManager.default.attributesOfItem(atPath: stored + "/" + $0)[.size] as? Int) ?? 0 }
        #expect(sizes == [size, size, size], "each upload is stored whole: \(sizes)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: daemon.data + "/fax_files/tmp")) ?? ["?"]).isEmpty,
                "no spooled body is left in fax_files/tmp")
    }

    @Test func aBodyWithoutContentLengthIsCutAtTheLimit() async throws {
        let api = try await TestAPI(label: "upload-chunked") { $0.http.maxUploadBytes = 256 * 1024 }
        defer { api.stop() }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(api.port)/api/fax/files/?filename=big.pdf")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(api.alice.key)")
        let chunks = (0..<64).map { index in ByteBuffer(bytes: index == 0 ? Self.paddedPDF(16 * 1024) : [UInt8](repeating: 0x20, count: 16 * 1024)) }
        let stream = AsyncStream<ByteBuffer> { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        }
        request.body = .stream(stream, length: .unknown)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        var buffer = try await response.body.collect(upTo: 1 << 20)
        let text = buffer.readString(length: buffer.readableBytes) ?? ""
        #expect(response.status.code == 413 && text.contains("too_large") && text.contains("http.max_upload_bytes"), "\(text)")
        let files = (try? FileManager.default.subpathsOfDirectory(atPath: api.service.directory + "/fax_files")) ?? []
        #expect(!files.contains { $0.hasSuffix("big.pdf") || $0.contains("tmp/body-") }, "nothing of the refused body is kept: \(files)")
    }

    @Test func theStorageQuotaCountsUploadsAndQueuedSends() async throws {
        let api = try await TestAPI(label: "upload-quota") {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:9")]
            $0.processing.retry.delays[.congestion] = 3600
            $0.processing.accountStorageMegabytes = 1
            $0.processing.planLimit = .allow
        }
        defer { api.stop() }
        let first = try await api.request(.POST, "/api/fax/files/?filename=a.pdf", token: api.alice.key, body: Self.paddedPDF(600 * 1024))
        #expect(first.status == 201, "\(first.text)")
        let second = try await api.request(.POST, "/api/fax/files/?filename=b.pdf", token: api.alice.key, body: Self.paddedPDF(600 * 1024))
        #expect(second.status == 413 && second.errorCode == "storage_quota", "\(second.text)")
        let message = second.errorMessage ?? ""
        #expect(message.contains("1.0 MB (processing.account_storage_mb)") && message.contains("uploads 0.6 MB"), "\(message)")
        #expect(!message.contains(api.service.directory), "no server path in the message")
        #expect(try await api.request(.POST, "/api/fax/files/?filename=b.pdf", token: api.bob.key, body: Self.paddedPDF(600 * 1024)).status == 201,
                "the quota is per account")
        // Queued sends count too: a real three-page document to many numbers fills the quota.
        let pdf = [UInt8](FileManager.default.contents(atPath: Fixtures.path("three-page-light.pdf"))!)
        #expect(try await api.request(.POST, "/api/fax/files/?filename=doc.pdf", token: api.bob.key, body: pdf).status == 201)
        var refused: HTTPReply?
        for _ in 0..<40 {
            let sent = try await api.request(.POST, "/api/fax/send/", token: api.bob.key,
                                             body: Array(#"{"filename":"doc.pdf","numbers":"15557654321,15557654322,15557654323,15557654324"}"#.utf8))
            if sent.status != 202 {
                refused = sent
                break
            }
        }
        let reply = try #require(refused, "queued documents never reached the quota")
        #expect(reply.status == 413 && reply.errorCode == "storage_quota" && reply.errorMessage?.contains("queued sends") == true, "\(reply.text)")
    }

    @Test func unusedUploadsExpireAndTheTemporaryDirectoryIsEmptiedAtStart() async throws {
        let directory = Fixtures.scratchDirectory("upload-expiry")
        let tmp = directory + "/fax_files/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: tmp + "/body-left-by-a-crash", contents: Data(count: 1000))
        FileManager.default.createFile(atPath: tmp + "/fax-left-by-a-crash.tif", contents: Data(count: 1000))
        let api = try await TestAPI(label: "upload-expiry-api") {
            $0.dataDirectory = directory
            $0.processing.uploadExpirySeconds = 3
        }
        defer { api.stop() }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? ["?"]).isEmpty, "the service emptied fax_files/tmp at start")
        let uploaded = try await api.request(.POST, "/api/fax/files/?filename=a.pdf", token: api.alice.key, body: Self.paddedPDF(4096))
        #expect(uploaded.status == 201)
        let folder = directory + "/fax_files/uploads"
        func stored() -> [String] { ((try? FileManager.default.subpathsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".pdf") } }
        let started = Date()
        #expect(stored().count == 1)
        while !stored().isEmpty && Date().timeIntervalSince(started) < 60 { try await Task.sleep(for: .milliseconds(100)) }
        let lasted = Date().timeIntervalSince(started)
        #expect(stored().isEmpty, "the unused upload was not deleted within 60 s")
        #expect(lasted >= 2, "deleted after \(lasted) s, before its 3 s expiry")
    }

    @Test func aPDFOverThePageLimitIsRefusedBeforeRendering() async throws {
        let api = try await TestAPI(label: "pages-first") {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:9")]
            $0.http.conversionTimeoutSeconds = 20
        }
        defer { api.stop() }
        // Rendering 20,000 blank pages runs into the timeout; counting them takes a fraction of a second.
        let form = TestAPI.multipart(fields: [("numbers", "15557654321")], file: ("file", "long.pdf", "application/pdf", SyntheticPDF.make(pages: 20_000)))
        let started = Date()
        let sent = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", form.contentType)], body: form.body)
        #expect(sent.status == 413 && sent.errorCode == "too_many_pages", "\(sent.text)")
        #expect(sent.errorMessage?.contains("20000 pages") == true && sent.errorMessage?.contains("http.max_pages") == true, "\(sent.text)")
        #expect(Date().timeIntervalSince(started) < 15, "refused before rendering")
    }

    @Test func conversionsAreCappedWith503AndRetryAfter() async throws {
        let api = try await TestAPI(label: "conversion-cap") {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:9")]
            $0.http.maxConversions = 1
            $0.http.conversionWaitSeconds = 0
            // The slow conversion is cut by its timeout soon after the test (it would hog the CPU).
            $0.http.conversionTimeoutSeconds = 15
        }
        defer { api.stop() }
        // A queued fax whose TIFF needs no conversion, for a page image below.
        let tiff = TestAPI.multipart(fields: [("numbers", "15557654321")], file: ("file", "scan.tif", "image/tiff",
                                                                              [UInt8](FileManager.default.contents(atPath: Fixtures.threePageLight)!)))
        let queued = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", tiff.contentType)], body: tiff.body)
        let uuid = try #require((queued.json?["uuids"] as? [String])?.first, "\(queued.text)")
        let slow = TestAPI.multipart(fields: [("numbers", "15557654321")], file: ("file", "slow.pdf", "application/pdf", SyntheticPDF.make(pages: 8, lines: 100_000)))
        let first = Task { try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", slow.contentType)], body: slow.body) }
        defer { first.cancel() }
        let deadline = Date().addingTimeInterval(60)
        while api.service.service.documents.conversionsRunning == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        try #require(api.service.service.documents.conversionsRunning == 1, "the slow conversion did not start")
        let pdf = [UInt8](FileManager.default.contents(atPath: Fixtures.path("three-page-light.pdf"))!)
        let quick = TestAPI.multipart(fields: [("numbers", "15557654321")], file: ("file", "quick.pdf", "application/pdf", pdf))
        let second = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", quick.contentType)], body: quick.body)
        #expect(second.status == 503 && second.errorCode == "busy" && second.errorMessage?.contains("http.max_conversions") == true, "\(second.text)")
        #expect(Int(second.header("Retry-After") ?? "") ?? 0 >= 1)
        // A page image is a Ghostscript run too: it waits for a slot like a conversion.
        let page = try await api.request(.GET, "/api/fax/\(uuid)/pages/1.png", token: api.alice.key)
        #expect(page.status == 503 && page.errorCode == "busy", "\(page.status) \(page.text.prefix(200))")
    }

    @Test func ghostscriptDiesWithAKilledDaemon() async throws {
        let daemon = try await Daemon("gs-dies", yaml: "  conversion_timeout_s: 600")
        defer { daemon.serve.signal(SIGKILL) }
        let slow = TestAPI.multipart(fields: [("numbers", "15557654321")], file: ("file", "slow.pdf", "application/pdf", SyntheticPDF.make(pages: 40, lines: 100_000)))
        let send = Task { try? await daemon.request(.POST, "/api/fax/send/", headers: [("Content-Type", slow.contentType)], body: slow.body) }
        defer { send.cancel() }
        var gs: [Int32] = []
        let deadline = Date().addingTimeInterval(90)
        while gs.isEmpty && Date() < deadline {
            // The page count runs first and briefly; the renderer is the one that stays.
            let found = Self.children(of: daemon.serve.pid, named: "gs")
            if !found.isEmpty {
                try await Task.sleep(for: .seconds(1))
                gs = Self.children(of: daemon.serve.pid, named: "gs")
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        try #require(!gs.isEmpty, "no Ghostscript started")
        defer { for pid in gs where Self.alive(pid) { kill(pid, SIGKILL) } }
        daemon.serve.signal(SIGKILL)
        _ = await daemon.serve.exit(timeout: 10)
        let gone = Date().addingTimeInterval(20)
        while gs.contains(where: Self.alive) && Date() < gone { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!gs.contains(where: Self.alive), "Ghostscript \(gs) outlived kill -9 of faxd")
    }
}
