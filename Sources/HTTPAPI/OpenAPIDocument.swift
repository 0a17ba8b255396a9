import Foundation

/// The OpenAPI 3.1 description of every route, served at `/api/openapi.json`. Built from
/// `routes` (the same list the tests walk against the live router).
public enum OpenAPIDocument {
    /// One operation: method, path in OpenAPI form, summary, who may call it, what it takes.
    public struct Route: Sendable {
        public var method: String
        public var path: String
        public var summary: String
        public var auth: Auth
        public var body: String?
        public var query: [String] = []
        public var responses: [Int]

        public enum Auth: Sendable { case none, apiKey, admin }
    }

    public static let routes: [Route] = [
        Route(method: "post", path: "/api/fax/files/", summary: "Upload a PDF or TIFF for a later send (raw body with ?filename=, or multipart part 'file'). 413 over http.max_upload_bytes or the account's storage quota (error code storage_quota).",
              auth: .apiKey, body: "document", responses: [201, 400, 401, 413, 415, 429, 503]),
        Route(method: "post", path: "/api/fax/send/", summary: "Queue one fax per number (the seed's JSON, or multipart with the document inline). Honours Idempotency-Key. 413 over the page limit or the storage quota; 503 with Retry-After when every conversion slot is busy.",
              auth: .apiKey, body: "send", responses: [202, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503]),
        Route(method: "get", path: "/api/fax/status/{uuid}/", summary: "A fax's status, pages, outcome and timestamps.",
              auth: .apiKey, responses: [200, 401, 404, 429]),
        Route(method: "get", path: "/api/fax/list/", summary: "The account's faxes, newest first.", auth: .apiKey,
              query: ["direction", "status", "from", "to", "since", "until", "limit", "cursor"], responses: [200, 400, 401, 429]),
        Route(method: "post", path: "/v2/calls", summary: "Dial a voice call (Telnyx Call Control v2): to, from (the account's number), connection_id (a trunk name), timeout_secs, client_state, webhook_url, link_to (a call to bridge with later: same session and media shard).",
              auth: .apiKey, body: "dial", responses: [200, 401, 403, 422, 429, 503]),
        Route(method: "post", path: "/v2/calls/{id}/actions/{name}", summary: "A call command: answer, reject, hangup, send_dtmf, playback_start/stop, record_start/stop, bridge, transfer (dials `to` in the same session and bridges it on answer), hold, unhold, mute, unmute, streaming_start (stream_url ws:// or wss://, stream_track inbound_track|outbound_track|both_tracks, dialect telnyx|twilio, stream_bidirectional_mode rtp|none, custom_parameters), streaming_stop. Takes client_state and command_id (a repeat within 5 min is answered the same and not done twice); 422 names why a command cannot be done now.",
              auth: .apiKey, body: "command", responses: [200, 401, 404, 409, 422, 429]),
        Route(method: "post", path: "/api/telnyx/dial", summary: "The softphone's dial: to_number, from_number.", auth: .apiKey, body: "softphoneDial",
              responses: [200, 401, 403, 422, 429, 503]),
        Route(method: "post", path: "/api/telnyx/hangup/{id}", summary: "The softphone's hangup.", auth: .apiKey, responses: [200, 401, 404, 422, 429]),
        Route(method: "post", path: "/api/calls/{id}/mute", summary: "Send silence instead of faxd's audio to the far end.", auth: .apiKey, responses: [200, 401, 404, 422, 429]),
        Route(method: "post", path: "/api/calls/{id}/unmute", summary: "Undo mute.", auth: .apiKey, responses: [200, 401, 404, 422, 429]),
        Route(method: "post", path: "/api/calls/{id}/hold", summary: "Hold the far end (re-INVITE a=sendonly, hold beep or voice.hold_music).", auth: .apiKey, responses: [200, 401, 404, 422, 429]),
        Route(method: "post", path: "/api/calls/{id}/resume", summary: "Take the far end off hold.", auth: .apiKey, responses: [200, 401, 404, 422, 429]),
        Route(method: "post", path: "/api/calls/{id}/dtmf", summary: "Send digits (RFC 4733, in-band when not negotiated).", auth: .apiKey, body: "digits",
              responses: [200, 401, 404, 422, 429]),
        Route(method: "get", path: "/v2/calls/{id}", summary: "A voice call in the Telnyx Call Control v2 shape (call_control_id, is_alive, call_duration, ...).",
              auth: .apiKey, responses: [200, 401, 404, 429]),
        Route(method: "get", path: "/api/calls/", summary: "The account's voice calls, newest first (the softphone's call log).", auth: .apiKey,
              query: ["state", "limit"], responses: [200, 400, 401, 429]),
        Route(method: "get", path: "/api/calls/{id}/recording", summary: "A voice call's recording (dual-channel WAV: caller left, callee right).",
              auth: .apiKey, responses: [200, 401, 404, 429]),
        Route(method: "get", path: "/api/call-status/status/{id}", summary: "One voice call's status for the softphone.",
              auth: .apiKey, responses: [200, 401, 404, 429]),
        Route(method: "get", path: "/api/call-status/active", summary: "The account's live voice calls.", auth: .apiKey, responses: [200, 401, 429]),
        Route(method: "get", path: "/api/call-status/stats", summary: "Counts by state, today's calls and talk time.", auth: .apiKey, responses: [200, 401, 429]),
        Route(method: "get", path: "/api/fax/webhooks/", summary: "The account's webhook endpoints (without secrets).", auth: .apiKey, responses: [200, 401, 429]),
        Route(method: "post", path: "/api/fax/webhooks/", summary: "Add a webhook endpoint; the answer shows its secret once.",
              auth: .apiKey, body: "webhook", responses: [201, 400, 401, 409, 429]),
        Route(method: "delete", path: "/api/fax/webhooks/{uuid}/", summary: "Delete a webhook endpoint.", auth: .apiKey, responses: [204, 401, 404, 429]),
        Route(method: "get", path: "/api/fax/contacts/", summary: "Numbers learned from successful sends.", auth: .apiKey, responses: [200, 401, 429]),
        Route(method: "get", path: "/api/fax/usage/", summary: "Pages and cost in the current billing period.", auth: .apiKey, responses: [200, 401, 429]),
        Route(method: "get", path: "/api/fax/{uuid}/document", summary: "The fax as PDF or TIFF.", auth: .apiKey, query: ["format"],
              responses: [200, 400, 401, 404, 429]),
        Route(method: "get", path: "/api/fax/{uuid}/pages/{page}", summary: "A page thumbnail; page is N.png.", auth: .apiKey,
              responses: [200, 400, 401, 404, 429]),
        Route(method: "post", path: "/api/fax/{uuid}/cancel", summary: "Cancel a queued fax.", auth: .apiKey, responses: [200, 401, 404, 409, 429]),
        Route(method: "get", path: "/api/openapi.json", summary: "This document.", auth: .none, responses: [200]),
        Route(method: "get", path: "/healthz", summary: "200 when the database answers.", auth: .none, responses: [200, 503]),
        Route(method: "get", path: "/metrics", summary: "Prometheus metrics.", auth: .admin, responses: [200, 401]),
        Route(method: "get", path: "/admin/", summary: "The operators' HTML status page (Bearer admin token or ?token=).", auth: .admin,
              query: ["token"], responses: [200, 401]),
        Route(method: "get", path: "/admin/status", summary: "Engine status: version, uptime, listeners, live channels, shard lateness, queues.",
              auth: .admin, responses: [200, 401]),
        Route(method: "post", path: "/admin/drain", summary: "Drain this node: OPTIONS and new INVITEs get 503, no new sends are dialled, calls in progress finish. Answers draining, availability, active_calls, active_sends.",
              auth: .admin, responses: [200, 401]),
        Route(method: "get", path: "/admin/drain", summary: "The drain state: draining, availability (taking, draining, full), active_calls, active_sends.",
              auth: .admin, responses: [200, 401]),
        Route(method: "delete", path: "/admin/drain", summary: "End a drain: the node takes calls and sends again.", auth: .admin, responses: [200, 401]),
        Route(method: "get", path: "/admin/accounts", summary: "Every account.", auth: .admin, responses: [200, 401]),
        Route(method: "post", path: "/admin/accounts", summary: "Create an account; the answer shows its first API key once.",
              auth: .admin, body: "account", responses: [201, 400, 401, 409]),
        Route(method: "get", path: "/admin/accounts/{number}", summary: "One account.", auth: .admin, responses: [200, 401, 404]),
        Route(method: "patch", path: "/admin/accounts/{number}", summary: "Change an account (plan, status, email, number_mode, voice_stream: a streaming_start object a voice number's calls are answered and streamed into, or null).",
              auth: .admin, body: "account", responses: [200, 400, 401, 404]),
        Route(method: "post", path: "/admin/accounts/{number}/keys", summary: "A new API key for the account (shown once).",
              auth: .admin, responses: [201, 401, 404]),
        Route(method: "get", path: "/admin/accounts/{number}/keys", summary: "The account's API keys: id, prefix, created and revoked times (never the key).",
              auth: .admin, responses: [200, 401, 404]),
        Route(method: "delete", path: "/admin/accounts/{number}/keys/{id}", summary: "Revoke one API key at once (idempotent).",
              auth: .admin, responses: [200, 400, 401, 404]),
    ]

    nonisolated(unsafe) static let bodies: [String: [String: Any]] = [
        "document": ["content": ["application/pdf": ["schema": ["type": "string", "format": "binary"]],
                                 "image/tiff": ["schema": ["type": "string", "format": "binary"]],
                                 "multipart/form-data": ["schema": ["type": "object", "properties": ["file": ["type": "string", "format": "binary"]],
                                                                    "required": ["file"]]]]],
        "send": ["content": ["application/json": ["schema": ["type": "object", "required": ["numbers"], "properties": [
            "username": ["type": "string", "description": "the account's fax number"],
            "filename": ["type": "string", "description": "a file uploaded with POST /api/fax/files/"],
            "numbers": ["type": "string", "description": "comma-separated fax numbers"],
            "is_enhanced": ["type": "boolean", "description": "fine resolution (204x196)"]]]],
                             "multipart/form-data": ["schema": ["type": "object", "required": ["numbers", "file"], "properties": [
                                "numbers": ["type": "string"], "is_enhanced": ["type": "string"], "username": ["type": "string"],
                                "file": ["type": "string", "format": "binary"]]]]]],
        "webhook": ["content": ["application/json": ["schema": ["type": "object", "required": ["url"], "properties": [
            "url": ["type": "string", "format": "uri"], "on_received": ["type": "boolean"], "on_sent": ["type": "boolean"],
            "on_failed": ["type": "boolean"], "events": ["type": "array", "items": ["type": "string"]]]]]]],
        "dial": ["content": ["application/json": ["schema": ["type": "object", "required": ["to"], "properties": [
            "to": ["type": "string"], "from": ["type": "string"], "connection_id": ["type": "string"],
            "timeout_secs": ["type": "integer", "minimum": 1], "client_state": ["type": "string", "description": "base64, echoed in webhooks"],
            "webhook_url": ["type": "string", "format": "uri"], "link_to": ["type": "string"]]]]]],
        "command": ["content": ["application/json": ["schema": ["type": "object", "properties": [
            "client_state": ["type": "string"], "command_id": ["type": "string"], "digits": ["type": "string"],
            "duration_millis": ["type": "integer", "minimum": 100, "maximum": 500], "media_name": ["type": "string"], "audio_url": ["type": "string"],
            "loop": ["type": ["integer", "string"]], "call_control_id": ["type": "string"], "cause": ["type": "string", "enum": ["CALL_REJECTED", "USER_BUSY"]],
            "format": ["type": "string", "enum": ["wav"]], "channels": ["type": "string", "enum": ["dual"]], "to": ["type": "string"]]]]]],
        "softphoneDial": ["content": ["application/json": ["schema": ["type": "object", "required": ["to_number"], "properties": [
            "to_number": ["type": "string"], "from_number": ["type": "string"]]]]]],
        "digits": ["content": ["application/json": ["schema": ["type": "object", "required": ["digits"], "properties": [
            "digits": ["type": "string"]]]]]],
        "account": ["content": ["application/json": ["schema": ["type": "object", "properties": [
            "fax_number": ["type": "string"], "name": ["type": "string"], "email": ["type": ["string", "null"]],
            "email_format": ["type": "string", "enum": ["pdf", "tiff"]], "plan": ["type": "string", "enum": ["basic", "plus", "pro", "enterprise"]],
            "status": ["type": "string", "enum": ["active", "disabled"]], "billing_cycle_day": ["type": "integer", "minimum": 1, "maximum": 28],
            "max_concurrent_sends": ["type": ["integer", "null"]], "record_calls": ["type": "boolean"]]]]]],
    ]

    static let reasons: [Int: String] = [200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad input (the error names it)",
                                         401: "Missing or wrong key", 403: "Not allowed", 404: "Not found (or another account's)",
                                         409: "Conflict", 413: "Too large", 415: "Not a PDF or TIFF", 422: "Unusable document or reused key",
                                         429: "Rate limited (see Retry-After)", 503: "Unhealthy"]

    /// The document as JSON text.
    public static let json: String = {
        var paths: [String: [String: Any]] = [:]
        for route in routes {
            var operation: [String: Any] = ["summary": route.summary, "operationId": operationID(route)]
            var parameters: [[String: Any]] = []
            for name in route.path.split(separator: "/").filter({ $0.hasPrefix("{") }).map({ String($0.dropFirst().dropLast()) }) {
                parameters.append(["name": name, "in": "path", "required": true, "schema": ["type": "string"]])
            }
            for name in route.query { parameters.append(["name": name, "in": "query", "required": false, "schema": ["type": "string"]]) }
            if route.path == "/api/fax/send/" {
                parameters.append(["name": "Idempotency-Key", "in": "header", "required": false, "schema": ["type": "string"]])
            }
            if !parameters.isEmpty { operation["parameters"] = parameters }
            if let body = route.body, let spec = bodies[body] { operation["requestBody"] = spec.merging(["required": true]) { a, _ in a } }
            var responses: [String: Any] = [:]
            for code in route.responses {
                var response: [String: Any] = ["description": reasons[code] ?? "HTTP \(code)"]
                if code >= 400 { response["content"] = ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]] }
                responses[String(code)] = response
            }
            operation["responses"] = responses
            switch route.auth {
            case .none: operation["security"] = [[String: Any]]()
            case .apiKey: operation["security"] = [["apiKey": [String]()]]
            case .admin: operation["security"] = [["adminToken": [String]()]]
            }
            paths[route.path, default: [:]][route.method] = operation
        }
        let document: [String: Any] = [
            "openapi": "3.1.0",
            "info": ["title": "faxd", "version": FaxdVersion.string,
                     "description": "Send and track faxes; operators' status and accounts. Errors are {\"error\": {\"code\", \"message\"}}."],
            "paths": paths,
            "components": [
                "securitySchemes": ["apiKey": ["type": "http", "scheme": "bearer", "description": "an account's API key"],
                                    "adminToken": ["type": "http", "scheme": "bearer", "description": "http.admin_token or FAXD_ADMIN_TOKEN"]],
                "schemas": ["Error": ["type": "object", "required": ["error"], "properties": [
                    "error": ["type": "object", "required": ["code", "message"],
                              "properties": ["code": ["type": "string"], "message": ["type": "string"]]]]]],
            ],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }()

    static func operationID(_ route: Route) -> String {
        let words = route.path.split(separator: "/").map { $0.replacingOccurrences(of: "{", with: "by_").replacingOccurrences(of: "}", with: "")
            .replacingOccurrences(of: ".", with: "_") }
        return route.method + "_" + words.joined(separator: "_")
    }
}
