internal import CSpanDSP

/// One T.30 HDLC frame heard on V.21 (ITU-T T.30 5.3.6): address 0xFF, control 0x03 or 0x13
/// (final frame), the facsimile control field (FCF) and its information field.
public struct T30Frame: Sendable, Equatable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The FCF, or nil for a frame too short to have one.
    public var fcf: UInt8? { bytes.count >= 3 ? bytes[2] : nil }

    /// spandsp's name for the FCF ("DIS", "DCS", "MCF", ...; spandsp: t30_frametype).
    public var name: String {
        guard let fcf else { return "short frame" }
        let base = String(cString: t30_frametype(fcf))
        // PPS carries the post-page message after it (T.30 A.4.3): PPS-MPS, PPS-EOP, PPS-NULL ...
        if base == "PPS", bytes.count >= 4 {
            let inner = bytes[3] == 0 ? "NULL" : String(cString: t30_frametype(bytes[3]))
            return "PPS-\(inner)"
        }
        return base
    }

    /// True for frames only the receiving (called) terminal sends: DIS, CSI, NSF, CFR, FTT, MCF,
    /// RTN, RTP, PPR, RNR, ERR, CTR; false for the sender's (DCS, TSI, MPS, EOP, PPS, ...); nil for
    /// either (DCN, CRP). Lets a mono recording's messages be put on the right side.
    public var fromReceiver: Bool? {
        switch name.split(separator: "-").first.map(String.init) ?? name {
        case "DIS", "CSI", "NSF", "CFR", "FTT", "MCF", "RTN", "RTP", "PPR", "RNR", "ERR", "CTR", "PIP", "PIN", "DTC", "CIG", "NSC": true
        case "DCS", "TSI", "NSS", "MPS", "EOP", "EOM", "PPS", "EOR", "RR", "CTC", "PRI": false
        default: nil
        }
    }

    /// The information field after the FCF.
    public var info: ArraySlice<UInt8> { bytes.count > 3 ? bytes[3...] : [] }

    /// FIF bit `n` (1-based, T.30 Table 2 numbering: bit 1 is the LSB of the first octet).
    func bit(_ n: Int) -> Bool {
        let index = 3 + (n - 1) / 8
        guard index < bytes.count else { return false }
        return bytes[index] & (1 << UInt8((n - 1) % 8)) != 0
    }

    /// A station identifier (CSI, TSI, CIG): 20 digits sent last-first (T.30 5.3.6.2.4).
    public var stationID: String? {
        guard ["CSI", "TSI", "CIG"].contains(name), bytes.count > 3 else { return nil }
        return String(decoding: bytes[3...].reversed(), as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// The capabilities of a DIS/DTC or the choice of a DCS, decoded from T.30 Table 2.
    public var capabilities: FaxCapabilities? {
        guard ["DIS", "DTC", "DCS"].contains(name), bytes.count >= 6 else { return nil }
        let command = name == "DCS"
        let rateBits = (bit(11) ? 8 : 0) | (bit(12) ? 4 : 0) | (bit(13) ? 2 : 0) | (bit(14) ? 1 : 0)
        var caps = FaxCapabilities()
        if command {
            switch rateBits {
            case 0b0000: (caps.modem, caps.bitRate) = ("V.27ter", 2400)
            case 0b0100: (caps.modem, caps.bitRate) = ("V.27ter", 4800)
            case 0b1000: (caps.modem, caps.bitRate) = ("V.29", 9600)
            case 0b1100: (caps.modem, caps.bitRate) = ("V.29", 7200)
            case 0b0001: (caps.modem, caps.bitRate) = ("V.17", 14400)
            case 0b0101: (caps.modem, caps.bitRate) = ("V.17", 12000)
            case 0b1001: (caps.modem, caps.bitRate) = ("V.17", 9600)
            case 0b1101: (caps.modem, caps.bitRate) = ("V.17", 7200)
            default: (caps.modem, caps.bitRate) = ("unknown", 0)
            }
        } else {
            var modems: [String] = []
            if rateBits & 0b0100 != 0 || rateBits == 0 { modems.append("V.27ter") }
            if rateBits & 0b1000 != 0 { modems.append("V.29") }
            if rateBits & 0b0001 != 0 { modems.append("V.17") }
            caps.modem = modems.joined(separator: ",")
            caps.bitRate = rateBits & 0b0001 != 0 ? 14400 : (rateBits & 0b1000 != 0 ? 9600 : 4800)
        }
        caps.fine = bit(15)
        caps.twoDimensional = bit(16)
        caps.ecm = bit(27)
        caps.t6 = bit(31) && caps.ecm
        let width = (bit(17) ? 1 : 0) | (bit(18) ? 2 : 0)
        caps.widthPixels = [1728, 2048, 2432, 1728][width]
        return caps
    }
}

/// What a DIS offers or a DCS chooses (T.30 Table 2, the bits faxd reports).
public struct FaxCapabilities: Sendable, Equatable, Codable {
    /// For a DCS the modem used ("V.17"); for a DIS the modems offered ("V.27ter,V.29,V.17").
    public var modem = ""
    /// For a DCS the signalling rate; for a DIS the fastest offered.
    public var bitRate = 0
    /// 7.7 lines/mm (fine).
    public var fine = false
    /// T.4 two-dimensional coding (MR).
    public var twoDimensional = false
    /// Error correction mode (T.30 Annex A).
    public var ecm = false
    /// T.6 coding (MMR), which needs ECM.
    public var t6 = false
    public var widthPixels = 1728

    /// The page coding these capabilities select (T.6 > T.4 2D > T.4 1D).
    public var coding: String { t6 ? "T.6" : (twoDimensional ? "T.4 2D" : "T.4 1D") }

    enum CodingKeys: String, CodingKey {
        case modem, bitRate = "bit_rate", fine, twoDimensional = "two_dimensional", ecm, t6, widthPixels = "width"
    }
}

import Foundation
