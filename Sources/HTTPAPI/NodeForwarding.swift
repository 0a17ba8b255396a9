import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Processing
import Store

/// Commands for a call another node carries (its SIP dialog and media are there) are sent on to
/// that node's API with the caller's own credentials, and its answer is returned as it came.
/// A forwarded request carries `X-Faxd-Forwarded-By`; one that arrives with it is never sent on
/// again, so two nodes that disagree about a call cannot bounce it between them.
extension APIServer {
    static let forwardedHeader = HTTPField.Name("X-Faxd-Forwarded-By")!

    /// The answer of the node carrying call `id` when that is another live node; nil when the
    /// call is this node's (or unknown, or ended: answered here as usual).
    func forwardIfElsewhere(_ request: Request, callControlID id: String, accountID: Int64, body: [String: Any]) async throws -> Response? {
        guard request.headers[Self.forwardedHeader] == nil,
              let call = try store.read({ try $0.voiceCall(callControlID: id, accountID: accountID) }),
              call.state != .ended, let owner = call.nodeID, owner != configuration.nodeID else { return nil }
        guard let node = service.otherLiveNode(owner), let base = node.apiAddress else {
            throw APIError(.serviceUnavailable, "node_unavailable",
                           "call \(id.prefix(80)) is carried by node \(owner), which is not answering (no heartbeat within processing.node_lease_s)")
        }
        var outbound = HTTPClientRequest(url: base + request.uri.description)
        outbound.method = .init(rawValue: request.method.rawValue)
        for field in request.headers where [.authorization, .contentType, .accept].contains(field.name) {
            outbound.headers.add(name: field.name.rawName, value: field.value)
        }
        outbound.headers.add(name: Self.forwardedHeader.rawName, value: configuration.nodeID)
        let bytes = try JSONSerialization.data(withJSONObject: body)
        outbound.body = .bytes(ByteBuffer(bytes: bytes))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(outbound, timeout: .seconds(30))
        } catch {
            throw APIError(.badGateway, "node_unavailable", "call \(id.prefix(80)) is carried by node \(owner); forwarding failed: \(error)")
        }
        let answer = try await response.body.collect(upTo: 4 * 1024 * 1024)
        var headers = HTTPFields()
        if let type = response.headers.first(name: "Content-Type") { headers[.contentType] = type }
        headers[Self.forwardedHeader] = owner
        return Response(status: .init(code: Int(response.status.code)), headers: headers, body: .init(byteBuffer: answer))
    }
}
