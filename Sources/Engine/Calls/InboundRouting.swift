/// What the orchestrator knows about an inbound call when it asks whether to take it.
public struct InboundOffer: Sendable {
    /// faxd's id for the call (the received TIFF is `<uuid>.tif`).
    public var uuid: String
    /// The DID called, E.164 digits.
    public var did: String
    public var fromNumber: String?
    public var fromName: String?
    public var trunk: String
    /// Where the fax will be received.
    public var file: String

    public init(uuid: String, did: String, fromNumber: String?, fromName: String?, trunk: String, file: String) {
        self.uuid = uuid
        self.did = did
        self.fromNumber = fromNumber
        self.fromName = fromName
        self.trunk = trunk
        self.file = file
    }
}

/// The router's answer.
public enum InboundDecision: Sendable, Equatable {
    /// Answer the call; `record` keeps both directions of its audio as a stereo WAV beside the fax.
    case accept(record: Bool)
    /// Take it as a voice call: 180 Ringing, then parked until the voice handler answers or
    /// rejects it (`onVoice`, `voice(_:_:)`).
    case voice
    /// An `auto` number: answer as voice at once and listen for a calling fax machine's CNG;
    /// when heard, the call becomes a fax received into the offer's file.
    case auto
    /// Refuse it with this SIP status; `reason` goes into the Warning header and the outcome.
    case reject(status: Int, reason: String)
}

/// Decides, on the SIP thread and before answering, whether an inbound call is taken (a DID
/// lookup). It must not block: no disk, no network (faxd's keeps its directory in memory).
public typealias InboundRouter = @Sendable (InboundOffer) -> InboundDecision
