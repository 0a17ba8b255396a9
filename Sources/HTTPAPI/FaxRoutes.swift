import Delivery
import Engine
import Fax
import Foundation
import Hashing
import HTTPTypes
import Multipart
import Hummingbird
import NIOCore
import Processing
import SIP
import Store

extension APIServer {
    func addFaxRoutes(_ router: Router<BasicRequestContext>) {
        router.post("api/fax/files") { request, _ in try await self.upload(request) }
        router.post("api/fax/send") { request, _ in try await self.send(request) }
        router.get("api/fax/status/:uuid") { request, context in
            let account = try self.account(request)
            return JSONResponse.encode(.ok, TransmissionView(try self.owned(context.parameters.require("uuid"), by: account)))
        }
        router.get("api/fax/list") { request, _ in try self.list(request) }
        router.post("api/fax/webhooks") { request, _ in try await self.createWebhook(request) }
        router.get("api/fax/webhooks") { request, _ in
            let account = try self.account(request)
            let hooks = try self.store.read { try $0.webhooks(accountID: account.id) }
            return JSONResponse.make(.ok, ["webhooks": hooks.map(Self.webhookJSON)])
        }
        router.delete("api/fax/webhooks/:uuid") { request, context in
            let account = try self.account(request)
            let uuid = try context.parameters.require("uuid")
            try self.store.write { db in
                guard let hook = try db.webhook(uuid: uuid), hook.accountID == account.id else { throw APIError.notFound("webhook \(uuid)") }
                try db.deleteWebhook(id: hook.id)
            }
            return Response(status: .noContent)
        }
        router.get("api/fax/contacts") { request, _ in
            let account = try self.account(request)
            let contacts = try self.store.read { try $0.contacts(accountID: account.id) }
            return JSONResponse.make(.ok, ["contacts": contacts.map { c -> [String: Any] in
                var item: [String: Any] = ["number": c.number, "usage_count": c.usageCount]
                if let name = c.name { item["name"] = name }
                if let last = c.lastUsedAt { item["last_used_at"] = OutboxMessages.timestamp(last) }
                return item
            }])
        }
        router.get("api/fax/usage") { request, _ in
            let account = try self.account(request)
            let period = BillingPeriod.start(containing: Date(), cycleDay: account.billingCycleDay)
            let usage = try self.store.read { try $0.usage(accountID: account.id, periodStart: period) }
            var body: [String: Any] = ["plan": account.plan.rawValue, "period_start": period, "pages_sent": usage.pagesSent,
                                       "pages_received": usage.pagesReceived, "pages": usage.pages,
                                       "overage_pages": usage.overagePages, "cost_cents": usage.costCents]
            body["monthly_pages"] = account.plan.monthlyPages.map { $0 as Any } ?? NSNull()
            return JSONResponse.make(.ok, body)
        }
        router.get("api/fax/:uuid/document") { request, context in
            let account = try self.account(request)
            let t = try self.owned(context.parameters.require("uuid"), by: account)
            return try await self.document(t, format: request.uri.queryParameters.get("format") ?? "pdf")
        }
        router.get("api/fax/:uuid/pages/:page") { request, context in
            let account = try self.account(request)
            let t = try self.owned(context.parameters.require("uuid"), by: account)
            let page = try context.parameters.require("page")
            guard page.hasSuffix(".png"), let number = Int(page.dropLast(4)), number >= 1 else {
                throw APIError.badRequest("page: '\(page)' must be N.png with N from 1")
            }
            return try await self.thumbnail(t, page: number)
        }
        router.post("api/fax/:uuid/cancel") { request, context in
            let account = try self.account(request)
            let t = try self.owned(context.parameters.require("uuid"), by: account)
            let cancelled = try self.store.write { db -> Bool in
                try db.cancelQueued(id: t.id)
            }
            guard cancelled else {
                throw APIError(.conflict, "not_cancellable", "fax \(t.uuid) is \(t.status.rawValue); only queued faxes can be cancelled")
            }
            return JSONResponse.encode(.ok, TransmissionView(try self.owned(t.uuid, by: account)))
        }
    }

    /// The transmission `uuid` if it belongs to `account`; 404 otherwise (another tenant's fax is not there for you).
    func owned(_ uuid: String, by account: FaxAccount) throws -> FaxTransmission {
        guard let t = try store.read({ try $0.transmission(uuid: uuid) }), t.accountID == account.id else {
            throw APIError.notFound("fax \(uuid.prefix(64))")
        }
        return t
    }

    // MARK: Upload and send

    func upload(_ request: Request) async throws -> Response {
        let account = try self.account(request)
        let incoming = try await receive(request, account: account, json: false)
        let document = try uploadedDocument(request, incoming, field: "file")
        let directory = service.documents.uploadDirectory(account)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try document.place(at: "\(directory)/\(document.name)")
        return JSONResponse.make(.created, ["filename": document.name, "size": document.size, "type": document.kind.rawValue])
    }

    /// A request body as it arrived: multipart spooled to a file and parsed there, a raw document
    /// spooled, or (for sends) a small JSON object in memory.
    enum Incoming {
        case form(MultipartFile, SpooledBody)
        case raw(SpooledBody)
        case json([UInt8])
    }

    /// Reads the body: multipart and raw documents stream to `fax_files/tmp` (never whole in the
    /// heap), JSON (when `json`) is read into memory up to 1 MiB.
    func receive(_ request: Request, account: FaxAccount, json: Bool) async throws -> Incoming {
        if let contentType = request.headers[.contentType], let boundary = MultipartForm.boundary(contentType: contentType) {
            let body = try await spool(request, account: account, limit: settings.maxUploadBytes + 64 * 1024)
            return .form(try Self.parse(body, boundary: boundary), body)
        }
        if json { return .json(try await self.body(request, limit: 1024 * 1024)) }
        return .raw(try await spool(request, account: account, limit: settings.maxUploadBytes))
    }

    static func parse(_ body: SpooledBody, boundary: String) throws(APIError) -> MultipartFile {
        do { return try MultipartFile(path: body.path, boundary: boundary) } catch { throw APIError.badRequest(error.description) }
    }

    /// A document that arrived in a request, checked (name, size, type), not yet in its place.
    struct ReceivedDocument {
        enum Source {
            case part(MultipartFile, MultipartFile.Part)
            case spooled(SpooledBody)
        }
        var name: String
        var size: Int
        var kind: DocumentConverter.Kind
        var source: Source
        /// Keeps the spooled body (and its file) alive as long as the document is.
        var body: SpooledBody

        /// Writes the document to `destination` (a temporary name, then rename: never half a file there).
        func place(at destination: String) throws(APIError) {
            switch source {
            case .spooled(let body):
                try body.move(to: destination)
            case .part(let form, let part):
                let temporary = "\(destination).part-\(UUID().uuidString.prefix(8))"
                do { try form.copy(part, to: temporary) } catch {
                    unlink(temporary)
                    throw APIError(.internalServerError, "storage", "cannot store the document")
                }
                guard rename(temporary, destination) == 0 else {
                    unlink(temporary)
                    throw APIError(.internalServerError, "storage", "cannot store the document")
                }
            }
        }

        /// SHA-256 over the SHA-256 of each MiB of the content (a content hash in bounded memory).
        func contentHash() -> String {
            var digests: [UInt8] = []
            switch source {
            case .spooled(let body):
                guard let handle = FileHandle(forReadingAtPath: body.path) else { return "" }
                defer { try? handle.close() }
                while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { digests += SHA256.hash(chunk) }
            case .part(let form, let part):
                var position = part.range.lowerBound
                while position < part.range.upperBound {
                    let end = min(part.range.upperBound, position + (1 << 20))
                    digests += SHA256.hash(form.bytes(in: position..<end))
                    position = end
                }
            }
            return SHA256.hex(digests)
        }
    }

    /// The document in a multipart part `field` or the raw body (`?filename=` or X-Filename);
    /// checks name, size and type.
    func uploadedDocument(_ request: Request, _ incoming: Incoming, field: String) throws -> ReceivedDocument {
        let name: String?
        let size: Int
        let head: [UInt8]
        let source: ReceivedDocument.Source
        let body: SpooledBody
        switch incoming {
        case .form(let form, let spooled):
            guard let part = form.part(field) else { throw APIError.badRequest("\(field): the multipart body has no '\(field)' part") }
            name = part.filename
            size = part.range.count
            head = form.bytes(in: part.range.lowerBound..<min(part.range.upperBound, part.range.lowerBound + 8))
            source = .part(form, part)
            body = spooled
        case .raw(let spooled):
            name = request.uri.queryParameters.get("filename") ?? request.headers[HTTPField.Name("X-Filename")!]
            size = spooled.size
            head = spooled.head(8)
            source = .spooled(spooled)
            body = spooled
        case .json:
            throw APIError.badRequest("\(field): send the document as multipart/form-data")
        }
        guard let name, !name.isEmpty else { throw APIError.badRequest("filename: give the file a name (multipart filename, ?filename= or X-Filename)") }
        let checked = try UploadName.check(name).get()
        guard size <= settings.maxUploadBytes else {
            throw APIError(.contentTooLarge, "too_large", "the document is \(size) bytes; at most \(settings.maxUploadBytes) are accepted (http.max_upload_bytes)")
        }
        guard size > 0 else { throw APIError.badRequest("the document is empty") }
        guard let kind = DocumentConverter.kind(of: head) else {
            throw APIError(.unsupportedMediaType, "unsupported_type", "'\(checked)' is neither a PDF nor a TIFF (accepted: application/pdf, image/tiff)")
        }
        return ReceivedDocument(name: checked, size: size, kind: kind, source: source, body: body)
    }

    /// A send request once its body is read: the fields, the inline document if any, and the
    /// hash idempotency compares (of the parsed request, not its bytes: two `curl -F` runs differ
    /// in their boundary only).
    struct SendInput {
        var fields: [String: Any]
        var document: ReceivedDocument?
        var requestHash: String
    }

    func sendInput(_ request: Request, account: FaxAccount) async throws -> SendInput {
        let incoming = try await receive(request, account: account, json: true)
        return try Self.sendInput(request, incoming, server: self)
    }

    static func sendInput(_ request: Request, _ incoming: Incoming, server: APIServer) throws -> SendInput {
        var fields: [String: Any] = [:]
        var document: ReceivedDocument?
        switch incoming {
        case .form(let form, _):
            for part in form.parts where part.filename == nil {
                guard let bytes = form.bytes(of: part, limit: 64 * 1024) else { throw APIError.badRequest("\(part.name): a form field may have at most 64 KiB") }
                fields[part.name] = String(decoding: bytes, as: UTF8.self)
            }
            if form.part("file") != nil { document = try server.uploadedDocument(request, incoming, field: "file") }
        case .json(let body):
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
                throw APIError.badRequest("the body must be a JSON object {\"username\", \"filename\", \"numbers\", \"is_enhanced\"} or multipart/form-data")
            }
            fields = object
        case .raw:
            throw APIError.badRequest("the body must be a JSON object or multipart/form-data")
        }
        var canonical = fields
        if let document { canonical["file"] = ["filename": document.name, "sha256": document.contentHash()] }
        let data = (try? JSONSerialization.data(withJSONObject: canonical, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return SendInput(fields: fields, document: document, requestHash: SHA256.hex(data))
    }

    func send(_ request: Request) async throws -> Response {
        let account = try self.account(request)
        let idempotencyKey = request.headers[.idempotencyKey]
        if let key = idempotencyKey, key.count > 200 { throw APIError.badRequest("Idempotency-Key: at most 200 characters") }
        let input = try await sendInput(request, account: account)
        let requestHash = input.requestHash
        if let key = idempotencyKey {
            // Claim the key before queueing anything, in one transaction: two identical requests
            // at once get one send and one 409, never two sends.
            let bound = claimLifetime
            let claim = try store.write { db in
                try db.claimIdempotencyKey(accountID: account.id, key: key, requestHash: requestHash, instance: service.instanceID, staleAfter: bound,
                                         liveInstances: service.liveInstances)
            }
            if let replay = try Self.answer(claim, key: key, lifetime: bound) { return replay }
        }
        do {
            return try await queueSend(input, account: account, idempotencyKey: idempotencyKey, requestHash: requestHash)
        } catch {
            // A refused or failed request lets go of its key: forgotten when nothing was queued (a
            // corrected retry may use it), kept when some was (the same request resumes).
            if let key = idempotencyKey { try? store.write { try $0.releaseIdempotencyClaim(accountID: account.id, key: key) } }
            throw error
        }
    }

    /// Seconds a send may run at most (waiting for a conversion slot, counting pages and
    /// rendering, queueing); a claim of this process older than that belongs to a request that hung.
    var claimLifetime: Double { Double(settings.conversionWaitSeconds + 2 * settings.conversionTimeoutSeconds + 60) }

    /// The answer a claim gives: nil to go on, a replayed answer, or an error.
    static func answer(_ claim: IdempotencyClaim, key: String, lifetime: Double) throws(APIError) -> Response? {
        switch claim {
        case .claimed:
            return nil
        case .mismatch:
            throw APIError(.unprocessableContent, "idempotency_key_reused", "Idempotency-Key '\(key)' was used for a different request")
        case .running(let elapsed):
            // The request that holds the key is alive in this process and ends within the
            // lifetime; a claim of a process that died never gets here (it is taken over).
            let remaining = max(1, Int((lifetime - elapsed).rounded(.up)))
            let wait = min(10, remaining)
            throw APIError(.conflict, "in_progress", "a request with Idempotency-Key '\(key)' started \(Int(elapsed)) s ago and is still being processed "
                           + "(it ends within \(remaining) s); retry in \(wait) s", headers: [.retryAfter: String(wait)])
        case .answered(let stored):
            var response = Response(status: .init(code: stored.status), headers: [.contentType: "application/json"],
                                    body: .init(byteBuffer: ByteBuffer(string: stored.responseJSON)))
            response.headers[HTTPField.Name("Idempotent-Replayed")!] = "true"
            return response
        }
    }

    /// The fields of a send, checked: numbers (E.164 digits) and resolution.
    static func sendFields(_ fields: [String: Any], account: FaxAccount) throws(APIError) -> (numbers: [String], fine: Bool) {
        if let username = fields["username"] {
            guard let text = username as? String else { throw APIError.badRequest("username: expected text (the account's fax number)") }
            guard PhoneNumber.normalize(text) == account.faxNumber else {
                throw APIError(.forbidden, "wrong_account", "username: '\(text.prefix(40))' is not the fax number of the account this API key belongs to")
            }
        }
        guard let numbersText = fields["numbers"] as? String else {
            throw APIError.badRequest("numbers: required, a comma-separated list of fax numbers")
        }
        let rawNumbers = numbersText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !rawNumbers.isEmpty, rawNumbers.count <= 100 else { throw APIError.badRequest("numbers: give 1 to 100 fax numbers") }
        var numbers: [String] = []
        for raw in rawNumbers {
            guard let number = PhoneNumber.normalize(raw), number.count >= 3 else { throw APIError.badRequest("numbers: \(PhoneNumber.problem(with: raw))") }
            numbers.append(number)
        }
        let fine: Bool
        switch fields["is_enhanced"] {
        case nil: fine = true
        case let value as Bool: fine = value
        case let value as String where ["true", "1", "false", "0"].contains(value.lowercased()): fine = ["true", "1"].contains(value.lowercased())
        default: throw APIError.badRequest("is_enhanced: expected true or false")
        }
        return (numbers, fine)
    }

    private func queueSend(_ input: SendInput, account: FaxAccount, idempotencyKey: String?, requestHash: String) async throws -> Response {
        let (numbers, fine) = try Self.sendFields(input.fields, account: account)
        // The document: inline, or an earlier upload by name.
        let source: String
        let scratch = configuration.temporaryDirectory
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var inline: String?
        defer { if let inline { unlink(inline) } }
        if let document = input.document {
            inline = "\(scratch)/inline-\(UUID().uuidString)"
            try document.place(at: inline!)
            source = inline!
        } else {
            guard let filename = input.fields["filename"] as? String else {
                throw APIError.badRequest("filename: required (upload the document with POST /api/fax/files/ first), or send multipart with a 'file' part")
            }
            let name = try UploadName.check(filename).get()
            source = "\(service.documents.uploadDirectory(account))/\(name)"
            guard FileManager.default.fileExists(atPath: source) else {
                throw APIError(.notFound, "not_found", "filename: '\(name)' was not uploaded (POST /api/fax/files/ first)")
            }
            DocumentStorage.touch(source)  // its expiry counts from its last use
        }
        let converted = "\(scratch)/fax-\(UUID().uuidString).tif"
        defer { unlink(converted) }
        try await convert(source, to: converted, fine: fine)
        // The queue keeps one copy of the fax document per number.
        let copies = DocumentStorage.size(of: converted) * numbers.count
        if let problem = service.documents.quotaProblem(account, adding: copies) {
            throw APIError(.contentTooLarge, "storage_quota", problem)
        }
        let targets = numbers
        let created = try await Offload.run { [self] in try enqueueAll(targets, account: account, document: converted, fine: fine, idempotencyKey: idempotencyKey) }
        let answer: [String: Any] = ["uuids": created.map(\.uuid),
                                     "transmissions": created.map { ["uuid": $0.uuid, "to": $0.toNumber ?? "", "status": $0.status.rawValue, "pages": $0.pagesTotal] }]
        let data = try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys, .withoutEscapingSlashes])
        if let key = idempotencyKey {
            try store.write { try $0.storeIdempotentResponse(accountID: account.id, key: key,
                                                             response: IdempotentResponse(requestHash: requestHash, status: 202,
                                                                                          responseJSON: String(decoding: data, as: UTF8.self),
                                                                                          transmissionUUIDs: created.map(\.uuid))) }
        }
        return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Renders a document into a fax TIFF in one of the `http.max_conversions` slots: 503 with
    /// Retry-After when none comes free within `http.conversion_wait_s`.
    func convert(_ source: String, to converted: String, fine: Bool) async throws {
        let result = try await inConversionSlot {
            await DocumentConverter.convertResult(source, to: converted, fine: fine, maxPages: settings.maxPages,
                                                  timeoutSeconds: settings.conversionTimeoutSeconds)
        }
        try Self.check(result)
    }

    /// Runs `body` (a Ghostscript run) in one of the `http.max_conversions` slots.
    func inConversionSlot<T>(_ body: () async throws -> T) async throws -> T {
        let documents = service.documents
        try Self.checkSlot(await documents.beginConversion(), settings: settings)
        defer { documents.endConversion() }
        return try await body()
    }

    static func checkSlot(_ started: Bool, settings: HTTPSettings) throws(APIError) {
        guard started else {
            throw APIError(.serviceUnavailable, "busy", "faxd is converting \(settings.maxConversions) documents (http.max_conversions) and none finished within \(settings.conversionWaitSeconds) s; retry shortly",
                           headers: [.retryAfter: "5"])
        }
    }

    static func check(_ result: Result<Int, DocumentError>) throws(APIError) {
        guard case .failure(let error) = result else { return }
        switch error.kind {
        case .unsupportedType: throw APIError(.unsupportedMediaType, "unsupported_type", error.reason)
        case .tooManyPages, .tooLarge: throw APIError(.contentTooLarge, "too_many_pages", error.reason)
        case .unreadable: throw APIError(.unprocessableContent, "unreadable_document", error.reason)
        case .conversionFailed: throw APIError(.unprocessableContent, "conversion_failed", error.reason)
        }
    }

    /// One transmission per number; a refusal names how many were already queued.
    func enqueueAll(_ numbers: [String], account: FaxAccount, document: String, fine: Bool, idempotencyKey: String?) throws(APIError) -> [FaxTransmission] {
        var created: [FaxTransmission] = []
        for (index, number) in numbers.enumerated() {
            do {
                created.append(try service.enqueue(SendRequest(account: account.uuid, to: number, document: document, fine: fine,
                                                               idempotencyKey: idempotencyKey, idempotencyIndex: index)))
            } catch {
                throw Self.apiError(error, queued: created)
            }
        }
        return created
    }

    static func apiError(_ error: SubmissionError, queued: [FaxTransmission]) -> APIError {
        let status: HTTPResponse.Status = switch error.code {
        case .planLimit, .unknownAccount, .accountDisabled, .destinationRefused: .forbidden
        case .badNumber, .badDocument: .badRequest
        case .noTrunk, .storage: .serviceUnavailable
        }
        if queued.isEmpty { return APIError(status, error.code.rawValue, error.reason) }
        return APIError(status, error.code.rawValue,
                        "\(error.reason) (faxes to the first \(queued.count) numbers were queued: \(queued.map(\.uuid).joined(separator: ", ")))")
    }

    // MARK: Listing

    func list(_ request: Request) throws -> Response {
        let account = try self.account(request)
        let query = request.uri.queryParameters
        func text(_ name: String) -> String? { query.get(name).flatMap { $0.isEmpty ? nil : $0 } }
        let direction = try text("direction").map {
            guard let d = FaxTransmission.Direction(rawValue: $0) else { throw APIError.badRequest("direction: '\($0)' must be inbound or outbound") }
            return d
        }
        let status = try text("status").map {
            guard let s = FaxTransmission.Status(rawValue: $0) else {
                throw APIError.badRequest("status: '\($0)' must be one of \(FaxTransmission.Status.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return s
        }
        let number = { (name: String) throws -> String? in
            try text(name).map {
                guard let n = PhoneNumber.normalize($0) else { throw APIError.badRequest("\(name): \(PhoneNumber.problem(with: $0))") }
                return n
            }
        }
        let date = { (name: String) throws -> Date? in
            try text(name).map {
                guard let d = ISO8601DateFormatter().date(from: $0) else { throw APIError.badRequest("\(name): '\($0)' must be an ISO 8601 time such as 2026-11-21T00:00:00Z") }
                return d
            }
        }
        let limit = try text("limit").map {
            guard let n = Int($0), (1...200).contains(n) else { throw APIError.badRequest("limit: '\($0)' must be 1...200") }
            return n
        } ?? 50
        let cursor = try text("cursor").map {
            guard let n = Int64($0), n > 0 else { throw APIError.badRequest("cursor: '\($0)' is not a cursor from an earlier page") }
            return n
        }
        let rows = try store.read {
            try $0.transmissions(accountID: account.id, direction: direction, status: status, from: try number("from"), to: try number("to"),
                                 since: try date("since"), until: try date("until"), before: cursor, limit: limit + 1)
        }
        let page = Array(rows.prefix(limit))
        struct Page: Encodable {
            var faxes: [TransmissionView]
            var nextCursor: String?
        }
        return JSONResponse.encode(.ok, Page(faxes: page.map(TransmissionView.init), nextCursor: rows.count > limit ? page.last.map { String($0.id) } : nil))
    }

    // MARK: Webhooks

    func createWebhook(_ request: Request) async throws -> Response {
        let account = try self.account(request)
        let body = try await self.body(request, limit: 64 * 1024)
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw APIError.badRequest("the body must be a JSON object {\"url\", \"on_received\", \"on_sent\", \"on_failed\"}")
        }
        guard let url = object["url"] as? String, let parsed = WebhookSender.endpoint(url) else {
            throw APIError.badRequest("url: required, an http(s) URL")
        }
        let limit = configuration.delivery.maxWebhooksPerAccount
        if try store.read({ try $0.webhookCount(accountID: account.id) }) >= limit {
            throw Self.tooManyWebhooks(limit)
        }
        if !configuration.delivery.allowPrivateTargets, let refusal = await WebhookTarget.refusalAtCreation(url: parsed) {
            throw APIError(.badRequest, "internal_target", "url: \(refusal)")
        }
        var events: [String] = []
        for (flag, event) in [("on_received", "fax.received"), ("on_sent", "fax.sent"), ("on_failed", "fax.failed")] {
            switch object[flag] {
            case nil: events.append(event)
            case let on as Bool: if on { events.append(event) }
            default: throw APIError.badRequest("\(flag): expected true or false")
            }
        }
        if let extra = object["events"] {
            guard let list = extra as? [String] else { throw APIError.badRequest("events: expected a list of event names") }
            for event in list {
                guard VoiceEventType.isSubscribable(event) else {
                    throw APIError.badRequest("events: '\(event.prefix(60))' is not an event (\(VoiceEventType.subscribable.joined(separator: ", ")))")
                }
                if !events.contains(event) { events.append(event) }
            }
        }
        guard !events.isEmpty else { throw APIError.badRequest("subscribe to at least one event") }
        let hook = try store.write { db in
            // Counted again in the write: two concurrent creations cannot both take the last place.
            guard try db.webhookCount(accountID: account.id) < limit else { throw Self.tooManyWebhooks(limit) }
            return try db.insert(FaxWebhook(accountID: account.id, url: url, secret: WebhookSignature.newSecret(), events: events))
        }
        var json = Self.webhookJSON(hook)
        json["secret"] = hook.secret  // shown once
        return JSONResponse.make(.created, json)
    }

    /// 409 when an account has `limit` endpoints already (`delivery.max_webhooks_per_account`).
    static func tooManyWebhooks(_ limit: Int) -> APIError {
        APIError(.conflict, "too_many_webhooks",
                 "this account has \(limit) webhook endpoints, the most it may have (delivery.max_webhooks_per_account); delete one first")
    }

    /// An endpoint as the API shows it: never its secret, credentials in its URL masked (`WebhookURL.redacted`).
    static func webhookJSON(_ hook: FaxWebhook) -> [String: Any] {
        var json: [String: Any] = ["uuid": hook.uuid, "url": WebhookURL.redacted(hook.url), "events": hook.events, "enabled": hook.enabled,
                                   "on_received": hook.events.contains("fax.received"), "on_sent": hook.events.contains("fax.sent"),
                                   "on_failed": hook.events.contains("fax.failed"), "consecutive_failures": hook.consecutiveFailures,
                                   "created_at": OutboxMessages.timestamp(hook.createdAt)]
        if let reason = hook.disabledReason { json["disabled_reason"] = reason }
        return json
    }

    // MARK: Documents

    func document(_ t: FaxTransmission, format: String) async throws -> Response {
        guard format == "pdf" || format == "tiff" else { throw APIError.badRequest("format: '\(format.prefix(20))' must be pdf or tiff") }
        guard let tiff = t.filePath, FileManager.default.fileExists(atPath: tiff) else { throw APIError.notFound("a document for fax \(t.uuid)") }
        let path: String
        if format == "tiff" {
            path = tiff
        } else {
            path = try pdf(for: t, tiff: tiff)
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw APIError.notFound("a document for fax \(t.uuid)") }
        return Response(status: .ok, headers: [.contentType: format == "pdf" ? "application/pdf" : "image/tiff",
                                               .contentDisposition: "attachment; filename=\"fax_\(t.uuid).\(format == "pdf" ? "pdf" : "tif")\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The PDF of a transmission: the one written at reception, or one made now from the TIFF.
    func pdf(for t: FaxTransmission, tiff: String) throws -> String {
        if let pdf = t.pdfPath, FileManager.default.fileExists(atPath: pdf) { return pdf }
        let made = "\(configuration.thumbnailDirectory)/\(t.uuid).pdf"
        if !FileManager.default.fileExists(atPath: made) {
            try FileManager.default.createDirectory(atPath: configuration.thumbnailDirectory, withIntermediateDirectories: true)
            do { try FaxPDF.write(try TIFFDocument(path: tiff), to: made) } catch {
                throw APIError(.internalServerError, "conversion_failed", "cannot make the PDF: \(error.reason)")
            }
        }
        return made
    }

    func thumbnail(_ t: FaxTransmission, page: Int) async throws -> Response {
        let png = try await thumbnailFile(t, page: page)
        guard let data = FileManager.default.contents(atPath: png) else { throw APIError.notFound("page \(page)") }
        return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "private, max-age=3600"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Page `page` of a fax as a PNG file, rendered by Ghostscript once and cached in fax_files/thumbs.
    func thumbnailFile(_ t: FaxTransmission, page: Int) async throws -> String {
        guard let tiff = t.filePath, FileManager.default.fileExists(atPath: tiff) else { throw APIError.notFound("a document for fax \(t.uuid)") }
        let count = max(t.pagesTotal, t.pagesTransferred)
        guard page <= count else { throw APIError.notFound("page \(page) of fax \(t.uuid) (it has \(count))") }
        let png = "\(configuration.thumbnailDirectory)/\(t.uuid)-\(page).png"
        if !FileManager.default.fileExists(atPath: png) {
            let pdf = try pdf(for: t, tiff: tiff)
            // A page image is a Ghostscript run like any conversion: it takes one of the slots.
            try await inConversionSlot {
                do throws(DocumentError) {
                    try await DocumentConverter.thumbnail(pdf: pdf, page: page, to: png, timeoutSeconds: settings.conversionTimeoutSeconds)
                } catch {
                    throw APIError(.internalServerError, "conversion_failed", error.reason)
                }
            }
        }
        return png
    }
}

/// Runs blocking work (SQLite transactions that may wait on another process, page hashing,
/// fsync, PDF writing) on a Dispatch queue instead of the two-thread cooperative pool the HTTP
/// tasks and the delivery loop share.
enum Offload {
    static let queue = DispatchQueue(label: "faxd-http-work", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
