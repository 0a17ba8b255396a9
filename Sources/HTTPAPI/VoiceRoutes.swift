import Foundation
import Hummingbird
import NIOCore
import Processing
import Store

/// Voice calls over HTTP (issue 16): `POST /v2/calls`, `GET /v2/calls/{id}` and
/// `POST /v2/calls/{id}/actions/{name}` in the Telnyx Call Control v2 shape, and the seed
/// softphone's routes over the same calls. Every route is scoped to the API key's account:
/// another account's call is 404, like a fax.
extension APIServer {
    func addVoiceRoutes(_ router: Router<BasicRequestContext>) {
        router.post("v2/calls") { request, _ in
            let account = try self.account(request)
            let body = try await self.jsonObject(request)
            let dial = VoiceDialRequest(to: try Self.field(body, "to", required: true) ?? "", from: try Self.field(body, "from"),
                                        connectionID: try Self.field(body, "connection_id"),
                                        timeoutSeconds: try Self.intField(body, "timeout_secs"),
                                        clientState: try Self.field(body, "client_state"), webhookURL: try Self.field(body, "webhook_url"),
                                        linkTo: try Self.field(body, "link_to"))
            let call = try self.placeCall(account, dial)
            return JSONResponse.make(.ok, VoiceCallView.call(call))
        }
        router.post("v2/calls/:id/actions/:name") { request, context in
            let account = try self.account(request)
            let id = try context.parameters.require("id"), name = try context.parameters.require("name")
            let body = try await self.jsonObject(request)
            if let answer = try await self.forwardIfElsewhere(request, callControlID: id, accountID: account.id, body: body) { return answer }
            let (status, json) = await self.service.voice.command(accountID: account.id, callControlID: id, name: name, body: body)
            return JSONResponse.make(HTTPResponse.Status(code: status), json)
        }
        // The seed softphone's commands, over the same calls.
        router.post("api/telnyx/dial") { request, _ in
            let account = try self.account(request)
            let body = try await self.jsonObject(request)
            let call = try self.placeCall(account, VoiceDialRequest(to: try Self.field(body, "to_number", required: true) ?? "",
                                                                    from: try Self.field(body, "from_number")))
            return JSONResponse.make(.ok, Self.softphoneJSON(call))
        }
        router.post("api/telnyx/hangup/:id") { request, context in
            try await self.softphoneCommand(request, context, "hangup", [:])
        }
        for (path, action) in [("mute", "mute"), ("unmute", "unmute"), ("hold", "hold"), ("resume", "unhold")] {
            router.post("api/calls/:id/\(path)") { request, context in
                try await self.softphoneCommand(request, context, action, [:])
            }
        }
        router.post("api/calls/:id/dtmf") { request, context in
            let body = try await self.jsonObject(request)
            return try await self.softphoneCommand(request, context, "send_dtmf", ["digits": body["digits"] ?? NSNull()])
        }
        router.get("v2/calls/:id") { request, context in
            let call = try self.ownedCall(request, context)
            return JSONResponse.make(.ok, VoiceCallView.call(call))
        }
        router.get("api/calls") { request, _ in
            let account = try self.account(request)
            let state = try request.uri.queryParameters.get("state").map { raw -> VoiceCall.State in
                guard let state = VoiceCall.State(rawValue: String(raw)) else {
                    throw APIError.badRequest("state: '\(raw.prefix(40))' must be one of \(VoiceCall.State.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return state
            }
            let limit = try Self.limit(request)
            let calls = try self.store.read { try $0.voiceCalls(accountID: account.id, state: state, limit: limit) }
            return JSONResponse.make(.ok, ["calls": calls.map(Self.softphoneJSON)])
        }
        router.get("api/calls/:id/recording") { request, context in
            let call = try self.ownedCall(request, context)
            guard let path = call.recordingPath, let data = FileManager.default.contents(atPath: path) else {
                throw APIError.notFound("a recording of call \(call.callControlID.prefix(80))")
            }
            return Response(status: .ok, headers: [.contentType: "audio/wav"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("api/call-status/status/:id") { request, context in
            JSONResponse.make(.ok, Self.softphoneJSON(try self.ownedCall(request, context)))
        }
        router.get("api/call-status/active") { request, _ in
            let account = try self.account(request)
            let calls = try self.store.read { try $0.activeVoiceCalls(accountID: account.id) }
            return JSONResponse.make(.ok, ["calls": calls.map(Self.softphoneJSON), "count": calls.count])
        }
        router.get("api/call-status/stats") { request, _ in
            let account = try self.account(request)
            let stats = try self.store.read { try $0.voiceCallStats(accountID: account.id) }
            let byState = Dictionary(uniqueKeysWithValues: VoiceCall.State.allCases.map { ($0.rawValue, stats.byState[$0] ?? 0) })
            return JSONResponse.make(.ok, ["total": stats.total, "by_state": byState, "today": stats.today,
                                           "total_duration_s": stats.totalDurationSeconds,
                                           "average_duration_s": stats.averageDurationSeconds])
        }
    }

    /// Dials for `account`; a refusal becomes its HTTP status with the reason.
    func placeCall(_ account: FaxAccount, _ request: VoiceDialRequest) throws -> VoiceCall {
        do {
            return try service.voice.dial(accountID: account.id, request)
        } catch {
            throw APIError(HTTPResponse.Status(code: error.status), error.code, error.reason)
        }
    }

    /// A softphone route: the Telnyx action on the call, answered `{"success": true, "call": ...}`.
    func softphoneCommand(_ request: Request, _ context: BasicRequestContext, _ action: String, _ body: [String: Any]) async throws -> Response {
        let account = try account(request)
        let id = try context.parameters.require("id")
        if let answer = try await forwardIfElsewhere(request, callControlID: id, accountID: account.id, body: body) { return answer }
        let (status, json) = await service.voice.command(accountID: account.id, callControlID: id, name: action, body: body)
        guard status == 200 else { return JSONResponse.make(HTTPResponse.Status(code: status), json) }
        let call = try store.read { try $0.voiceCall(callControlID: id, accountID: account.id) }
        return JSONResponse.make(.ok, ["success": true, "call": call.map { Self.softphoneJSON($0) as Any } ?? NSNull()])
    }

    /// A string field; a number is taken as its digits (phone numbers sent as JSON numbers).
    static func field(_ body: [String: Any], _ key: String, required: Bool = false) throws -> String? {
        switch body[key] {
        case nil, is NSNull:
            if required { throw APIError(.unprocessableContent, "invalid_argument", "\(key) is required") }
            return nil
        case let text as String: return text
        case let number as Int: return String(number)
        default: throw APIError(.unprocessableContent, "invalid_argument", "\(key): expected a string")
        }
    }

    static func intField(_ body: [String: Any], _ key: String) throws -> Int? {
        switch body[key] {
        case nil, is NSNull: return nil
        case let number as Int: return number
        default: throw APIError(.unprocessableContent, "invalid_argument", "\(key): expected a whole number")
        }
    }

    /// The call `id` names if it belongs to the request's account; 404 otherwise (another
    /// account's call is not there for this key).
    func ownedCall(_ request: Request, _ context: BasicRequestContext) throws -> VoiceCall {
        let account = try account(request)
        let id = try context.parameters.require("id")
        guard let call = try store.read({ try $0.voiceCall(callControlID: id, accountID: account.id) }) else {
            throw APIError.notFound("call \(id.prefix(80))")
        }
        return call
    }

    /// `?limit=` (1...500, default 50).
    static func limit(_ request: Request) throws -> Int {
        guard let raw = request.uri.queryParameters.get("limit") else { return 50 }
        guard let limit = Int(raw), (1...500).contains(limit) else { throw APIError.badRequest("limit: '\(raw.prefix(20))' must be 1...500") }
        return limit
    }

    /// One call as the seed softphone reads it: ids, numbers, direction, state, times, talk
    /// seconds, the hangup's cause and source, and whether a recording, mute or hold applies.
    static func softphoneJSON(_ call: VoiceCall) -> [String: Any] {
        var json: [String: Any] = [
            "call_id": call.callControlID, "call_control_id": call.callControlID, "call_leg_id": call.callLegID,
            "call_session_id": call.callSessionID, "from_number": call.fromNumber, "to_number": call.toNumber,
            "direction": call.direction.rawValue, "status": call.state.rawValue,
            "started_at": OutboxMessages.timestamp(call.createdAt), "duration_s": call.durationSeconds,
            "muted": call.muted, "on_hold": call.held, "has_recording": call.recordingPath != nil,
        ]
        if let answered = call.answeredAt { json["answered_at"] = OutboxMessages.timestamp(answered) }
        if let ended = call.endedAt { json["ended_at"] = OutboxMessages.timestamp(ended) }
        if let cause = call.hangupCause { json["hangup_cause"] = cause.rawValue }
        if let source = call.hangupSource { json["hangup_source"] = source.rawValue }
        if let sip = call.sipHangupCause { json["sip_hangup_cause"] = sip }
        return json
    }
}
