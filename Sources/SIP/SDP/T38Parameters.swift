/// The T.38 session parameters carried as SDP attributes of an `m=image <port> udptl t38` line. ITU-T T.38 Annex D.
public struct T38Parameters: Sendable, Equatable {
    /// How training (TCF) is checked. ITU-T T.38 Annex D, T38FaxRateManagement.
    public enum RateManagement: String, Sendable, Equatable, CaseIterable {
        /// "transferredTCF": TCF is carried end to end; required over UDP. ITU-T T.38 Annex D.
        case transferredTCF
        /// "localTCF": each gateway generates TCF locally (TCP). ITU-T T.38 Annex D.
        case localTCF
    }

    /// The UDPTL error-protection scheme. ITU-T T.38 Annex D, T38FaxUdpEC.
    public enum UDPErrorCorrection: String, Sendable, Equatable, CaseIterable {
        /// "t38UDPNoEC": primary IFPs only. ITU-T T.38 Annex D.
        case none = "t38UDPNoEC"
        /// "t38UDPRedundancy": secondary copies of earlier IFPs. ITU-T T.38 Annex A, Annex D.
        case redundancy = "t38UDPRedundancy"
        /// "t38UDPFEC": parity forward error correction. ITU-T T.38 Annex A, Annex D.
        case fec = "t38UDPFEC"
    }

    /// T38FaxVersion, 0 when absent. ITU-T T.38 Annex D.
    public var version: Int
    /// T38MaxBitRate in bit/s (e.g. 14400), nil when absent. ITU-T T.38 Annex D.
    public var maxBitRate: Int?
    /// T38FaxRateManagement, transferredTCF when absent. ITU-T T.38 Annex D.
    public var rateManagement: RateManagement
    /// T38FaxMaxBuffer: bytes of IFP buffer this side can receive into, nil when absent. ITU-T T.38 Annex D.
    public var maxBuffer: Int?
    /// T38FaxMaxDatagram (alias T38MaxDatagram): largest UDPTL datagram this side can receive, nil when absent. ITU-T T.38 Annex D.
    public var maxDatagram: Int?
    /// T38FaxUdpEC, none when absent. ITU-T T.38 Annex D.
    public var udpErrorCorrection: UDPErrorCorrection
    /// T38FaxFillBitRemoval. ITU-T T.38 Annex D.
    public var fillBitRemoval: Bool
    /// T38FaxTranscodingMMR. ITU-T T.38 Annex D.
    public var transcodingMMR: Bool
    /// T38FaxTranscodingJBIG. ITU-T T.38 Annex D.
    public var transcodingJBIG: Bool

    /// Creates parameters; the defaults are what an offer without the attributes means. ITU-T T.38 Annex D.
    public init(
        version: Int = 0,
        maxBitRate: Int? = nil,
        rateManagement: RateManagement = .transferredTCF,
        maxBuffer: Int? = nil,
        maxDatagram: Int? = nil,
        udpErrorCorrection: UDPErrorCorrection = .none,
        fillBitRemoval: Bool = false,
        transcodingMMR: Bool = false,
        transcodingJBIG: Bool = false
    ) {
        self.version = version
        self.maxBitRate = maxBitRate
        self.rateManagement = rateManagement
        self.maxBuffer = maxBuffer
        self.maxDatagram = maxDatagram
        self.udpErrorCorrection = udpErrorCorrection
        self.fillBitRemoval = fillBitRemoval
        self.transcodingMMR = transcodingMMR
        self.transcodingJBIG = transcodingJBIG
    }

    /// Reads the T.38 attributes of a media description, tolerantly: names and enum values ignore case, a boolean
    /// without value is true, the "broken boolean" `:0`/`:1` (and false/true) forms are honoured, T38MaxDatagram is
    /// taken for T38FaxMaxDatagram, and unreadable values leave the default. ITU-T T.38 Annex D.
    public init(attributes: [SDPAttribute]) {
        self.init()
        for attribute in attributes {
            let value = attribute.value.map { $0.trimmingSpaces() }
            switch Self.canonicalName(attribute.name) {
            case "t38faxversion":
                if let number = value.flatMap(Self.number) { version = number }
            case "t38maxbitrate":
                if let number = value.flatMap(Self.number) { maxBitRate = number }
            case "t38faxratemanagement":
                if let value, let match = RateManagement.allCases.first(where: { asciiCaseInsensitiveEquals($0.rawValue, value) }) {
                    rateManagement = match
                }
            case "t38faxmaxbuffer":
                if let number = value.flatMap(Self.number) { maxBuffer = number }
            case "t38faxmaxdatagram", "t38maxdatagram":
                if let number = value.flatMap(Self.number) { maxDatagram = number }
            case "t38faxudpec":
                if let value, let match = UDPErrorCorrection.allCases.first(where: { asciiCaseInsensitiveEquals($0.rawValue, value) }) {
                    udpErrorCorrection = match
                }
            case "t38faxfillbitremoval":
                fillBitRemoval = Self.boolean(value)
            case "t38faxtranscodingmmr":
                transcodingMMR = Self.boolean(value)
            case "t38faxtranscodingjbig":
                transcodingJBIG = Self.boolean(value)
            default:
                continue
            }
        }
    }

    /// Reads the T.38 attributes of `media`. ITU-T T.38 Annex D.
    public init(media: MediaDescription) {
        self.init(attributes: media.attributes)
    }

    /// The attributes in the usual order; booleans appear bare when true and are omitted when false, optional
    /// numbers are omitted when nil, T38FaxUdpEC is always stated. ITU-T T.38 Annex D.
    public func attributes() -> [SDPAttribute] {
        var list = [SDPAttribute(name: "T38FaxVersion", value: String(version))]
        if let maxBitRate { list.append(SDPAttribute(name: "T38MaxBitRate", value: String(maxBitRate))) }
        if fillBitRemoval { list.append(SDPAttribute(name: "T38FaxFillBitRemoval")) }
        if transcodingMMR { list.append(SDPAttribute(name: "T38FaxTranscodingMMR")) }
        if transcodingJBIG { list.append(SDPAttribute(name: "T38FaxTranscodingJBIG")) }
        list.append(SDPAttribute(name: "T38FaxRateManagement", value: rateManagement.rawValue))
        if let maxBuffer { list.append(SDPAttribute(name: "T38FaxMaxBuffer", value: String(maxBuffer))) }
        if let maxDatagram { list.append(SDPAttribute(name: "T38FaxMaxDatagram", value: String(maxDatagram))) }
        list.append(SDPAttribute(name: "T38FaxUdpEC", value: udpErrorCorrection.rawValue))
        return list
    }

    /// The answer to `offer` given what faxd can do (`local`): lower version and bit rate, the offer's rate
    /// management, FEC only if both do FEC, else redundancy if offered and `local` does redundancy or FEC, else
    /// none; booleans only when both sides set them; maxBuffer/maxDatagram are `local`'s own, since each side
    /// declares what it can receive. ITU-T T.38 Annex D, RFC 3264 section 6.
    public static func negotiateT38(offer: T38Parameters, local: T38Parameters) -> T38Parameters {
        let errorCorrection: UDPErrorCorrection
        switch (offer.udpErrorCorrection, local.udpErrorCorrection) {
        case (.fec, .fec):
            errorCorrection = .fec
        case (.fec, .redundancy), (.redundancy, .redundancy), (.redundancy, .fec):
            errorCorrection = .redundancy
        default:
            errorCorrection = .none
        }
        let bitRate: Int? = switch (offer.maxBitRate, local.maxBitRate) {
        case let (theirs?, ours?): min(theirs, ours)
        case let (theirs, ours): theirs ?? ours
        }
        return T38Parameters(
            version: min(offer.version, local.version),
            maxBitRate: bitRate,
            rateManagement: offer.rateManagement,
            maxBuffer: local.maxBuffer,
            maxDatagram: local.maxDatagram,
            udpErrorCorrection: errorCorrection,
            fillBitRemoval: offer.fillBitRemoval && local.fillBitRemoval,
            transcodingMMR: offer.transcodingMMR && local.transcodingMMR,
            transcodingJBIG: offer.transcodingJBIG && local.transcodingJBIG)
    }

    // MARK: Lenient value parsing

    /// Lower-cased ASCII name, so "t38faxversion" and "T38FaxVersion" meet. ITU-T T.38 Annex D.
    private static func canonicalName(_ name: String) -> String {
        String(decoding: name.utf8.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    private static func number(_ text: String) -> Int? {
        isASCIIDigits(text) ? Int(text) : nil
    }

    /// Present without value: true. ":0", ":false", ":no" -> false; anything else present -> true. ITU-T T.38 Annex D.
    private static func boolean(_ value: String?) -> Bool {
        guard let value else { return true }
        return !["0", "false", "no", "off"].contains { asciiCaseInsensitiveEquals($0, value) }
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs (no Foundation). ITU-T T.38 Annex D.
    fileprivate func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
