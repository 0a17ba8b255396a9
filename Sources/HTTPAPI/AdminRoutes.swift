import Engine
import Fax
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Processing
import SIP
import Store

extension APIServer {
    func addAdminRoutes(_ router: Router<BasicRequestContext>) {
        router.get("healthz") { _, _ in
            // Healthy when the database answers.
            do {
                _ = try self.store.read { try $0.query("SELECT 1") }
                return JSONResponse.make(.ok, ["status": "ok"])
            } catch {
                return JSONResponse.make(.serviceUnavailable, ["status": "unhealthy", "reason": "database: \(error)"])
            }
        }
        router.get("admin/status") { request, _ in
            try self.admin(request)
            return JSONResponse.make(.ok, try await self.statusJSON())
        }
        // Drain (issue 19): no new calls or sends on this node; `faxd drain` calls these.
        router.post("admin/drain") { request, _ in
            try self.admin(request)
            self.service.setDraining(true)
            return JSONResponse.make(.ok, self.drainJSON())
        }
        router.get("admin/drain") { request, _ in
            try self.admin(request)
            return JSONResponse.make(.ok, self.drainJSON())
        }
        router.delete("admin/drain") { request, _ in
            try self.admin(request)
            self.service.setDraining(false)
            return JSONResponse.make(.ok, self.drainJSON())
        }
        router.get("metrics") { request, _ in
            try self.admin(request)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: try self.prometheus())))
        }
        router.get("admin") { request, _ in try await self.adminPage(request) }
        router.get("admin/accounts") { request, _ in
            try self.admin(request)
            let accounts = try self.store.read { try $0.accounts() }
            return JSONResponse.encode(.ok, ["accounts": accounts.map(AccountView.init)])
        }
        router.post("admin/accounts") { request, _ in
            try self.admin(request)
            return try await self.createAccount(request)
        }
        router.get("admin/accounts/:number") { request, context in
            try self.admin(request)
            return JSONResponse.encode(.ok, AccountView(try self.adminAccount(context.parameters.require("number"))))
        }
        router.patch("admin/accounts/:number") { request, context in
            try self.admin(request)
            return try await self.updateAccount(request, number: context.parameters.require("number"))
        }
        router.post("admin/accounts/:number/keys") { request, context in
            try self.admin(request)
            let account = try self.adminAccount(context.parameters.require("number"))
            let key = try self.store.write { try APIKeys.create(accountID: account.id, in: $0) }
            return JSONResponse.make(.created, ["api_key": key, "account": account.faxNumber])
        }
        router.get("admin/accounts/:number/keys") { request, context in
            try self.admin(request)
            let account = try self.adminAccount(context.parameters.require("number"))
            let keys = try self.store.read { try $0.apiKeys(accountID: account.id) }
            return JSONResponse.encode(.ok, ["keys": keys.map(APIKeyView.init)])
        }
        router.delete("admin/accounts/:number/keys/:id") { request, context in
            try self.admin(request)
            let account = try self.adminAccount(context.parameters.require("number"))
            let text = try context.parameters.require("id")
            guard let id = Int64(text), id > 0 else {
                throw APIError(.badRequest, "invalid_key_id", "'\(text.prefix(40))' is not a key id (GET /admin/accounts/\(account.faxNumber)/keys lists them)")
            }
            guard let key = try self.store.write({ try $0.revokeAPIKey(id: id, accountID: account.id) }) else {
                throw APIError.notFound("key \(id) of account \(account.faxNumber)")
            }
            self.logger.notice("api key revoked", metadata: ["account": "\(account.faxNumber)", "key": "\(key.prefix)"])
            return JSONResponse.encode(.ok, APIKeyView(key))
        }
    }

    /// An API key for operators: id, prefix, dates; the key itself is never stored.
    struct APIKeyView: Encodable {
        var id: Int64
        var prefix: String
        var createdAt: Date
        var revokedAt: Date?
        init(_ key: APIKeyRecord) {
            id = key.id
            prefix = key.prefix
            createdAt = key.createdAt
            revokedAt = key.revokedAt
        }
    }

    func adminAccount(_ key: String) throws -> FaxAccount {
        guard let account = try store.read({ try $0.account(identifiedBy: PhoneNumber.normalize(key) ?? key) }) else {
            throw APIError.notFound("account \(key.prefix(40))")
        }
        return account
    }

    struct AccountView: Encodable {
        var uuid: String
        var faxNumber: String
        var name: String
        var email: String?
        var emailFormat: String
        var plan: String
        var monthlyPages: Int?
        var status: String
        var billingCycleDay: Int
        var maxConcurrentSends: Int?
        var recordCalls: Bool
        var numberMode: String
        /// A voice number's media stream (the streaming_start body its calls are answered into), or nil.
        var voiceStream: StreamView?
        var createdAt: Date

        init(_ a: FaxAccount) {
            uuid = a.uuid
            faxNumber = a.faxNumber
            name = a.name
            email = a.email
            emailFormat = a.emailFormat.rawValue
            plan = a.plan.rawValue
            monthlyPages = a.plan.monthlyPages
            status = a.status.rawValue
            billingCycleDay = a.billingCycleDay
            maxConcurrentSends = a.maxConcurrentSends
            recordCalls = a.recordCalls
            numberMode = a.numberMode.rawValue
            voiceStream = a.voiceStream.flatMap { text in
                (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]).flatMap { try? StreamingStart(body: $0) }.map(StreamView.init)
            }
            createdAt = a.createdAt
        }
    }

    /// A number's stream as the account shows it (the fields streaming_start takes).
    struct StreamView: Encodable {
        var streamUrl: String
        var dialect: String
        var streamTrack: String
        var bidirectional: Bool
        var customParameters: [String: String]

        init(_ start: StreamingStart) {
            streamUrl = start.url
            dialect = start.dialect.rawValue
            streamTrack = start.trackName
            bidirectional = start.bidirectional
            customParameters = start.customParameters
        }
    }

    /// Applies the account fields present in `object` to `account`.
    func apply(_ object: [String: Any], to account: inout FaxAccount) throws {
        if let v = object["name"] {
            guard let name = v as? String, name.count <= 200 else { throw APIError.badRequest("name: expected text (at most 200 characters)") }
            account.name = name
        }
        if let v = object["email"] {
            if v is NSNull { account.email = nil } else {
                guard let email = v as? String, EmailAddress.isValid(email) else { throw APIError.badRequest("email: expected one email address such as fax@example.com") }
                account.email = email
            }
        }
        if let v = object["email_format"] {
            guard let text = v as? String, let format = FaxAccount.EmailFormat(rawValue: text) else { throw APIError.badRequest("email_format: must be pdf or tiff") }
            account.emailFormat = format
        }
        if let v = object["plan"] {
            guard let text = v as? String, let plan = FaxAccount.Plan(rawValue: text) else {
                throw APIError.badRequest("plan: must be basic, plus, pro or enterprise")
            }
            account.plan = plan
        }
        if let v = object["status"] {
            guard let text = v as? String, let status = FaxAccount.Status(rawValue: text) else { throw APIError.badRequest("status: must be active or disabled") }
            account.status = status
        }
        if let v = object["billing_cycle_day"] {
            guard let day = v as? Int, (1...28).contains(day) else { throw APIError.badRequest("billing_cycle_day: must be 1...28") }
            account.billingCycleDay = day
        }
        if let v = object["record_calls"] {
            guard let on = v as? Bool else { throw APIError.badRequest("record_calls: expected true or false") }
            account.recordCalls = on
        }
        if let v = object["number_mode"] {
            guard let text = v as? String, let mode = FaxAccount.NumberMode(rawValue: text) else {
                throw APIError.badRequest("number_mode: must be fax, voice or auto")
            }
            account.numberMode = mode
        }
        if let v = object["voice_stream"] {
            if v is NSNull { account.voiceStream = nil } else {
                guard let body = v as? [String: Any] else { throw APIError.badRequest("voice_stream: expected a streaming_start object or null") }
                let start: StreamingStart
                do { start = try StreamingStart(body: body) } catch { throw APIError.badRequest("voice_stream: \(error.reason)") }
                account.voiceStream = String(decoding: try JSONSerialization.data(withJSONObject: start.body, options: [.sortedKeys]), as: UTF8.self)
            }
        }
        if let v = object["max_concurrent_sends"] {
            if v is NSNull { account.maxConcurrentSends = nil } else {
                guard let n = v as? Int, (1...1000).contains(n) else { throw APIError.badRequest("max_concurrent_sends: must be 1...1000 or null") }
                account.maxConcurrentSends = n
            }
        }
    }

    /// A JSON object body of at most 64 KiB; an empty body is `{}` (a command without arguments).
    func jsonObject(_ request: Request) async throws -> [String: Any] {
        let body = try await self.body(request, limit: 64 * 1024)
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw APIError.badRequest("the body must be a JSON object")
        }
        return object
    }

    func createAccount(_ request: Request) async throws -> Response {
        let object = try await jsonObject(request)
        guard let raw = object["fax_number"] as? String else { throw APIError.badRequest("fax_number: required") }
        guard let number = PhoneNumber.normalize(raw) else { throw APIError.badRequest("fax_number: \(PhoneNumber.problem(with: raw))") }
        var account = FaxAccount(faxNumber: number)
        try apply(object, to: &account)
        let (saved, key) = try store.write { db -> (FaxAccount, String) in
            guard try db.account(faxNumber: number) == nil else {
                throw APIError(.conflict, "exists", "an account with the fax number \(number) exists already")
            }
            let saved = try db.insert(account)
            return (saved, try APIKeys.create(accountID: saved.id, in: db))
        }
        service.accountsChanged()
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        var json = (try? JSONSerialization.jsonObject(with: encoder.encode(AccountView(saved)))) as? [String: Any] ?? [:]
        json["api_key"] = key  // shown once
        return JSONResponse.make(.created, json)
    }

    func updateAccount(_ request: Request, number: String) async throws -> Response {
        var account = try adminAccount(number)
        let object = try await jsonObject(request)
        try apply(object, to: &account)
        let updated = account
        try store.write {
            try $0.update(updated)
            try $0.setNumberMode(accountID: updated.id, updated.numberMode)
            try $0.setVoiceStream(accountID: updated.id, updated.voiceStream)
        }
        service.accountsChanged()
        return JSONResponse.encode(.ok, AccountView(updated))
    }

    // MARK: Status and metrics

    /// The drain state and what is still live: what `faxd drain --wait` polls.
    func drainJSON() -> [String: Any] {
        let orchestrator = service.daemon.orchestrator
        return ["draining": orchestrator.isDraining, "availability": orchestrator.availability.rawValue,
                "active_calls": orchestrator.activeCalls, "active_sends": service.activeSends]
    }

    func statusJSON() async throws -> [String: Any] {
        let daemon = service.daemon.status
        let live = await service.daemon.orchestrator.liveCalls()
        let (queue, outbox) = try store.read { (try $0.outboundCounts(), try $0.pendingOutboxCount()) }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let calls = (try? JSONSerialization.jsonObject(with: encoder.encode(live))) ?? []
        let shards = (try? JSONSerialization.jsonObject(with: encoder.encode(daemon.shards))) ?? []
        let sip = configuration.sip
        return [
            "version": FaxdVersion.string,
            "uptime_s": Date().timeIntervalSince(startedAt),
            "pid": Int(getpid()),
            "sip": ["listen": "\(sip.listenHost):\(sip.listenPort)", "transports": ["udp", "tcp"],
                    "public_address": sip.publicAddress ?? sip.listenHost],
            "http": ["listen": "\(settings.listenHost):\(boundPort ?? settings.listenPort)"],
            "draining": service.daemon.orchestrator.isDraining,
            "availability": service.daemon.orchestrator.availability.rawValue,
            "max_calls": sip.maxCalls,
            "active_calls": daemon.activeCalls,
            "active_channels": daemon.activeChannels,
            "sip_handles": daemon.sipHandles,
            "calls_ended": daemon.callsEnded,
            "faxes_completed": daemon.faxesCompleted,
            "channels": calls,
            "shards": shards,
            "queue": ["queued": queue["queued"] ?? 0, "dialing": queue["dialing"] ?? 0, "transmitting": queue["transmitting"] ?? 0],
            "active_sends": service.activeSends,
            "outbox_pending": outbox,
            "node_id": configuration.nodeID,
            "nodes": try nodesJSON(),
        ]
    }

    /// The nodes sharing the database as their heartbeats say (empty on a node's own SQLite
    /// file): alive or dead by `processing.node_lease_s`, draining, where they listen.
    func nodesJSON(now: Date = Date()) throws -> [[String: Any]] {
        guard store.isShared else { return [] }
        let lease = Double(configuration.processing.nodeLeaseSeconds)
        return try store.read { try $0.nodes() }.map { node in
            var entry: [String: Any] = ["node_id": node.nodeID, "alive": node.isAlive(now: now, lease: lease), "draining": node.draining,
                                        "heartbeat_age_s": max(0, now.timeIntervalSince(node.heartbeatAt)),
                                        "started_at": ISO8601DateFormatter().string(from: node.startedAt), "this": node.nodeID == configuration.nodeID]
            if let sip = node.sipAddress { entry["sip"] = sip }
            if let api = node.apiAddress { entry["api"] = api }
            return entry
        }
    }

    /// Prometheus text exposition format 0.0.4.
    func prometheus() throws -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples {
                let number = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
                out += "\(name)\(labels) \(number)\n"
            }
        }
        let counts = service.metrics.snapshot
        metric("faxd_calls_total", "counter", "Calls ended, by direction and result.",
               counts.calls.sorted { $0.key < $1.key }.flatMap { direction, results in
                   results.sorted { $0.key < $1.key }.map { ("{direction=\"\(direction)\",result=\"\($0.key)\"}", Double($0.value)) }
               })
        metric("faxd_pages_total", "counter", "Pages confirmed, by direction.",
               counts.pages.sorted { $0.key < $1.key }.map { ("{direction=\"\($0.key)\"}", Double($0.value)) })
        metric("faxd_t30_results_total", "counter", "Calls by T.30 completion code (spandsp's T30_ERR_*).",
               counts.t30.sorted { $0.key < $1.key }.map { ("{code=\"\($0.key)\",name=\"\(Self.label($0.value.name))\"}", Double($0.value.count)) })
        metric("faxd_hangup_causes_total", "counter", "Calls by hangup cause.",
               counts.causes.sorted { $0.key < $1.key }.map { ("{cause=\"\($0.key)\"}", Double($0.value)) })
        metric("faxd_voice_calls_total", "counter", "Voice calls started, by direction.",
               ["inbound", "outbound"].map { ("{direction=\"\($0)\"}", Double(counts.voiceCalls[$0] ?? 0)) })
        metric("faxd_voice_legs_active", "gauge", "Voice call legs in progress.", [("", Double(counts.voiceLegsActive))])
        metric("faxd_media_streams_active", "gauge", "Media streams to applications connected or connecting.", [("", Double(counts.streamsActive))])
        metric("faxd_media_streams_total", "counter", "Media streams ended, by how (stopped, failed).",
               ["stopped", "failed"].map { ("{result=\"\($0)\"}", Double(counts.streamsEnded[$0] ?? 0)) })
        metric("faxd_media_stream_frames_dropped_total", "counter", "Call audio frames not sent because an application fell behind (ended streams).",
               [("", Double(counts.streamFramesDropped))])
        metric("faxd_media_stream_bytes_refused_total", "counter", "Application audio bytes not played: the playout queue was full (ended streams).",
               [("", Double(counts.streamBytesRefused))])
        metric("faxd_media_stream_messages_ignored_total", "counter", "Messages from applications that were not valid (ended streams).",
               [("", Double(counts.streamMessagesInvalid))])
        let status = service.daemon.status
        metric("faxd_active_calls", "gauge", "Calls in progress (any phase).", [("", Double(status.activeCalls))])
        metric("faxd_draining", "gauge", "1 while this node drains (faxd drain): it takes no new calls or sends.",
               [("", service.daemon.orchestrator.isDraining ? 1 : 0)])
        if store.isShared {
            let nodes = try nodesJSON()
            metric("faxd_nodes", "gauge", "Nodes sharing the database by their heartbeat (dead: silent longer than processing.node_lease_s).",
                   ["alive", "dead"].map { state in ("{state=\"\(state)\"}", Double(nodes.filter { ($0["alive"] as? Bool) == (state == "alive") }.count)) })
        }
        metric("faxd_active_channels", "gauge", "Media channels on the shards.", [("", Double(status.activeChannels))])
        metric("faxd_sip_handles", "gauge", "sofia-sip dialogs and requests faxd holds (grows with no calls: a leak).",
               [("", Double(status.sipHandles))])
        let (queue, outbox) = try store.read { (try $0.outboundCounts(), try $0.pendingOutboxCount()) }
        metric("faxd_send_queue", "gauge", "Outbound transmissions by status.",
               ["queued", "dialing", "transmitting"].map { ("{status=\"\($0)\"}", Double(queue[$0] ?? 0)) })
        metric("faxd_outbox_pending", "gauge", "Email and webhook deliveries waiting.", [("", Double(outbox))])
        // Tick lateness per shard: the 100 us histogram folded into Prometheus buckets.
        let bounds = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05]
        out += "# HELP faxd_tick_lateness_seconds How late each 20 ms media tick started, per shard.\n"
        out += "# TYPE faxd_tick_lateness_seconds histogram\n"
        for shard in status.shards {
            var cumulative = 0
            var sum = 0.0
            var next = 0
            for (bucket, count) in shard.latenessHistogram.enumerated() { sum += Double(count) * (Double(bucket) + 0.5) * 0.0001 }
            for bound in bounds {
                let limit = Int((bound / 0.0001).rounded())
                while next < min(limit, shard.latenessHistogram.count) {
                    cumulative += shard.latenessHistogram[next]
                    next += 1
                }
                out += "faxd_tick_lateness_seconds_bucket{shard=\"\(shard.index)\",le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "faxd_tick_lateness_seconds_bucket{shard=\"\(shard.index)\",le=\"+Inf\"} \(shard.ticks)\n"
            out += "faxd_tick_lateness_seconds_sum{shard=\"\(shard.index)\"} \(sum)\n"
            out += "faxd_tick_lateness_seconds_count{shard=\"\(shard.index)\"} \(shard.ticks)\n"
        }
        return out
    }

    static func label(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: " ")
    }
}

/// faxd's version, as /admin/status reports it.
public enum FaxdVersion {
    public static let string = "0.3.0"
}
