import Foundation

/// An opaque reference to one sofia-sip dialog handle (nua_handle_t). Only meaningful on the agent
/// thread and only until the agent destroys it.
public struct SIPHandle: Hashable, Sendable, CustomStringConvertible {
    let raw: UInt
    init(_ pointer: UnsafeMutableRawPointer) { raw = UInt(bitPattern: pointer) }
    var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: raw)! }
    /// A handle that refers to no dialog: for calls that failed before any SIP was sent.
    public static let none = SIPHandle(raw: 0)
    private init(raw: UInt) { self.raw = raw }
    public var description: String { "nh#" + String(raw, radix: 16) }
}

/// What happened, as sofia-sip's nua reports it, flattened to Swift values (sofia: nua_event_t).
public struct SIPEvent: Sendable {
    /// The kinds faxd acts on.
    public enum Kind: Sendable, Equatable {
        case incomingInvite, incomingAck, incomingBye, incomingCancel, incomingOptions, incomingUpdate, incomingInfo
        case stateChanged, terminated
        case inviteResponse, byeResponse, cancelResponse, shutdownResponse
        case error, other
    }

    /// Dialog state after a `stateChanged` event (sofia: enum nua_callstate).
    public enum CallState: Int, Sendable {
        case initial = 0, authenticating, calling, proceeding, completing, received, early, completed, ready, terminating, terminated
    }

    public var kind: Kind
    /// sofia's event name, for logs ("nua_i_invite").
    public var name: String
    public var status: Int
    public var phrase: String
    public var handle: SIPHandle?
    public var callState: CallState?
    public var callID: String?
    public var cseqMethod: String?
    public var requestURI: String?
    /// The Request-URI user part, raw (see `PhoneNumber.normalize` for the DID).
    public var requestUser: String?
    public var fromURI: String?
    public var fromUser: String?
    public var fromDisplay: String?
    public var toURI: String?
    public var toUser: String?
    public var contentType: String?
    public var body: String?
    /// Packet source of a request, numeric.
    public var sourceAddress: String?
    public var sourcePort: Int
    /// "UDP" or "TCP" from the top Via.
    public var transport: String?
    /// Realm of a 401/407 challenge.
    public var authRealm: String?
    public var authScheme: String?

    /// The media types of the Accept header, lowercased; nil when there is none.
    public var accept: [String]? = nil

    /// What the body of an offer carries.
    public enum Offer: Sendable, Equatable {
        case none
        /// SDP: the whole body, or the application/sdp part of a multipart body (SIP-I/SIP-T
        /// carriers send SDP beside ISUP in multipart/mixed).
        case sdp(String)
        /// A body faxd cannot read, by its content type.
        case unsupported(String)
    }

    /// The body as an offer (RFC 3261 section 8.2.3: a body of a type we do not take gets 415).
    public var offer: Offer { Self.offer(body: body, contentType: contentType) }

    /// `offer` for any body and content type.
    public static func offer(body: String?, contentType: String?) -> Offer {
        guard let body, !body.isEmpty else { return .none }
        let type = (contentType ?? "application/sdp").lowercased()
        if type.hasPrefix("application/sdp") { return .sdp(body) }
        if type.hasPrefix("multipart/"), let part = Self.sdpPart(of: body) { return .sdp(part) }
        return .unsupported(type)
    }

    /// True when an Accept header is present and allows no SDP (RFC 3261 section 8.2.3: 406).
    public var refusesSDP: Bool { Self.refusesSDP(accept: accept) }

    /// `refusesSDP` for any Accept list.
    public static func refusesSDP(accept: [String]?) -> Bool {
        guard let accept, !accept.isEmpty else { return false }
        return !accept.contains { ["application/sdp", "application/*", "*/*"].contains($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The first application/sdp part of a multipart body, found by its first delimiter line (the
    /// shim passes the content type without its boundary parameter).
    static func sdpPart(of body: String) -> String? {
        let lines = body.components(separatedBy: "\r\n")
        guard let delimiter = lines.first(where: { $0.hasPrefix("--") && $0.count > 2 }) else { return nil }
        let boundary = delimiter.trimmingCharacters(in: .whitespaces)
        for part in body.components(separatedBy: boundary).dropFirst() {
            guard let split = part.range(of: "\r\n\r\n") else { continue }
            let headers = part[..<split.lowerBound].lowercased()
            let isSDP = headers.components(separatedBy: "\r\n").contains {
                $0.hasPrefix("content-type:") && $0.dropFirst(13).trimmingCharacters(in: .whitespaces).hasPrefix("application/sdp")
            }
            if isSDP {
                var content = String(part[split.upperBound...])
                if content.hasSuffix("\r\n") { content.removeLast() }  // the CRLF before the next delimiter
                return content
            }
        }
        return nil
    }

}
