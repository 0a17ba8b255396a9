internal import CSpanDSP
import Foundation

/// One thing the decoder heard, at a time from the start of the recording.
public struct LabEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case tone, message, training, data, page }
    /// Seconds from the start.
    public var time: Double
    /// Recording channel it was heard on (0 or 1; 0 for mono).
    public var channel: Int
    /// "caller" (the sending terminal, which dialled) or "answerer", when known.
    public var side: String?
    public var kind: Kind
    /// "CNG", "DIS", "training V.17 14400", "page 1" ...
    public var name: String
    /// Decoded details ("V.17 14400, fine, T.6, ECM", a station id, byte counts).
    public var detail: String?
}

/// A passive decoder for recorded fax audio, the way spandsp's own fax_decode test reads a call:
/// tone detectors (CNG, CED, ANSam), a V.21 channel 2 demodulator with an HDLC receiver for the
/// T.30 messages on every channel, and after a DCS the fast modem it names (V.17, V.29, V.27ter)
/// on the sender's channel, whose image data (plain T.4/T.6 bits, or ECM frames reassembled per
/// block) goes to a T.4 receiver that writes the pages it can recover to a TIFF
/// (spandsp: modem_connect_tones_rx, fsk_rx, hdlc_rx, v17_rx, v29_rx, v27ter_rx, t4_rx).
/// Not thread safe; one recording at a time.
public final class FaxAudioDecoder {
    public private(set) var events: [LabEvent] = []
    public private(set) var pagesWritten = 0
    private var channels: [ChannelDecoder] = []
    private let output: String?
    private var t4: OpaquePointer?
    private var dcs: FaxCapabilities?
    /// The channel the DCS came from (the sender's), where the image data will be.
    private var senderChannel = 0
    private enum Expect { case nothing, tcf, image }
    private var expect = Expect.nothing
    private var pageOpen = false
    private var pageBytes = 0
    /// ECM: the current page's frames by block and frame number (good copies only).
    private var ecmFrames: [Int: [UInt8]] = [:]
    private var ecmBlock = 0
    private var ecmPageData: [UInt8] = []
    /// A PPS arrived and its block waits for the receiver's MCF (or PPR, then a retransmission).
    private var ecmBlockPending = false
    private var ecmPageEndPending = false
    private var mono: Bool

    /// A decoder for `channelCount` channels (1 or 2); recovered pages go to `tiffPath` if given.
    public init(channelCount: Int, tiffPath: String?) throws(FaxError) {
        mono = channelCount == 1
        output = tiffPath
        for index in 0..<channelCount { channels.append(try ChannelDecoder(index: index)) }
        for channel in channels { channel.owner = self }
    }

    deinit {
        if let t4 { t4_rx_free(t4) }
    }

    /// Feeds the next samples of `channel`; call it in time order, a frame per channel at a time.
    public func process(channel: Int, samples: UnsafeBufferPointer<Int16>) {
        channels[channel].process(samples)
    }

    /// Ends the recording: closes an open page and the TIFF; returns the events in time order.
    public func finish() -> [LabEvent] {
        if pageOpen { endPage(reason: "recording ended") }
        if let t4 {
            t4_rx_release(t4)
            t4_rx_free(t4)
            self.t4 = nil
        }
        events.sort { $0.time < $1.time }
        return events
    }

    // MARK: From the channel decoders

    func tone(_ name: String, channel: Int, time: Double) {
        add(LabEvent(time: time, channel: channel, side: side(channel, fromReceiver: name == "CNG" ? false : true), kind: .tone, name: name, detail: nil))
    }

    func v21Frame(_ bytes: [UInt8], channel: Int, time: Double) {
        let frame = T30Frame(bytes)
        var detail: String?
        if let caps = frame.capabilities {
            detail = "\(caps.modem) \(caps.bitRate), \(caps.fine ? "fine" : "standard"), \(caps.coding)\(caps.ecm ? ", ECM" : ""), \(caps.widthPixels) px"
        } else if let id = frame.stationID {
            detail = "\"\(id)\""
        }
        let name = frame.name
        add(LabEvent(time: time, channel: channel, side: side(channel, fromReceiver: frame.fromReceiver), kind: .message, name: name, detail: detail))
        switch name {
        case "DCS":
            dcs = frame.capabilities
            senderChannel = channel
            expect = .tcf
            if let dcs { channels[channel].armFastModem(dcs) }
        case "CFR", "MCF":
            if dcs != nil { expect = .image }
            if name == "MCF" && dcs?.ecm == false && pageOpen { endPage(reason: nil) }
            if name == "MCF" && ecmBlockPending { ecmBlockConfirmed(reason: nil) }
        case "FTT":
            expect = .nothing
        case "MPS", "EOP", "EOM", "PRI-MPS", "PRI-EOP", "PRI-EOM":
            if pageOpen && dcs?.ecm == false { endPage(reason: nil) }
        case "RTN", "RTP":
            if pageOpen { endPage(reason: nil) }
        case "EOR", "DCN":
            if ecmBlockPending { ecmBlockConfirmed(reason: "not confirmed by the receiver") }
            if name == "DCN" { expect = .nothing }
            if pageOpen { endPage(reason: nil) }
        default:
            if name.hasPrefix("PPS-") {
                // The block ends; it counts once the receiver confirms it (a PPR asks for frames again).
                ecmBlockPending = true
                ecmPageEndPending = name != "PPS-NULL"
            }
        }
    }

    func fastModem(_ status: Int32, channel: Int, time: Double, description: String) {
        switch status {
        case Int32(SIG_STATUS_TRAINING_SUCCEEDED):
            let what = expect == .tcf ? "TCF" : "image data"
            add(LabEvent(time: time, channel: channel, side: side(channel, fromReceiver: false), kind: .training, name: "training \(description)",
                         detail: what))
            if expect == .image && dcs?.ecm == false && !pageOpen { startPage() }
        case Int32(SIG_STATUS_CARRIER_DOWN):
            if expect == .tcf {
                expect = .nothing
            } else if expect == .image, pageBytes > 0, dcs?.ecm == false {
                add(LabEvent(time: time, channel: channel, side: side(channel, fromReceiver: false), kind: .data, name: "page data",
                             detail: "\(pageBytes / 8) bytes"))
            }
        default:
            break
        }
    }

    /// A non-ECM image bit.
    func imageBit(_ bit: Int32) {
        guard expect == .image, pageOpen, let t4 else { return }
        pageBytes += 1
        t4_rx_put_bit(t4, bit)
    }

    /// An ECM frame from the fast modem's HDLC receiver.
    func ecmFrame(_ bytes: [UInt8], channel: Int, time: Double) {
        guard bytes.count >= 4, expect == .image else { return }
        if bytes[2] == UInt8(T4_FCD), bytes.count > 4 {
            ecmFrames[Int(bytes[3])] = Array(bytes[4...])
        } else if bytes[2] == UInt8(T4_RCP) {
            add(LabEvent(time: time, channel: channel, side: side(channel, fromReceiver: false), kind: .data, name: "ECM block \(ecmBlock)",
                         detail: "\(ecmFrames.count) frames"))
        }
    }

    // MARK: Pages

    private func ecmBlockConfirmed(reason: String?) {
        // The block's frames in order (retransmissions after a PPR only filled the gaps).
        for number in ecmFrames.keys.sorted() { ecmPageData += ecmFrames[number]! }
        ecmFrames = [:]
        ecmBlock += 1
        ecmBlockPending = false
        guard ecmPageEndPending else { return }
        ecmPageEndPending = false
        startPage()
        if let t4 { ecmPageData.withUnsafeBufferPointer { _ = t4_rx_put_chunk(t4, $0.baseAddress, Int32($0.count)) } }
        pageBytes = ecmPageData.count
        ecmPageData = []
        endPage(reason: reason)
    }

    private func startPage() {
        guard let dcs, let output else { return }
        if t4 == nil {
            t4 = t4_rx_init(nil, output, Int32(T4_COMPRESSION_ITU_T6.rawValue))
        }
        guard let t4 else { return }
        let encoding = dcs.t6 ? T4_COMPRESSION_ITU_T6 : (dcs.twoDimensional ? T4_COMPRESSION_ITU_T4_2D : T4_COMPRESSION_ITU_T4_1D)
        t4_rx_set_rx_encoding(t4, Int32(encoding.rawValue))
        t4_rx_set_image_width(t4, Int32(dcs.widthPixels))
        t4_rx_set_x_resolution(t4, Int32(T4_X_RESOLUTION_R8.rawValue))
        t4_rx_set_y_resolution(t4, Int32(dcs.fine ? T4_Y_RESOLUTION_FINE.rawValue : T4_Y_RESOLUTION_STANDARD.rawValue))
        t4_rx_start_page(t4)
        pageOpen = true
        pageBytes = 0
    }

    private func endPage(reason: String?) {
        guard pageOpen, let t4 else {
            pageOpen = false
            return
        }
        pageOpen = false
        t4_rx_end_page(t4)
        var stats = t4_stats_t()
        t4_rx_get_transfer_statistics(t4, &stats)
        pagesWritten += 1
        let time = channels[senderChannel].seconds
        add(LabEvent(time: time, channel: senderChannel, side: side(senderChannel, fromReceiver: false), kind: .page, name: "page \(pagesWritten)",
                     detail: "\(stats.width)x\(stats.length), \(stats.bad_rows) bad rows" + (reason.map { ", \($0)" } ?? "")))
    }

    private func add(_ event: LabEvent) { events.append(event) }

    /// Which terminal a channel is: the caller sends (DCS, CNG), the answerer receives.
    private func side(_ channel: Int, fromReceiver: Bool?) -> String? {
        if mono { return fromReceiver.map { $0 ? "answerer" : "caller" } }
        // Stereo recordings made by faxd put the caller (sender) on channel 0.
        return channel == 0 ? "caller" : "answerer"
    }
}

/// The detectors and demodulators of one recording channel. Owns its spandsp states.
final class ChannelDecoder {
    let index: Int
    weak var owner: FaxAudioDecoder?
    private(set) var samplesSeen = 0
    var seconds: Double { Double(samplesSeen) / 8000 }
    private var tones: [(detector: OpaquePointer, code: Int32, name: String, heard: Bool)] = []
    private let fsk: OpaquePointer
    private let hdlc: OpaquePointer
    private let ecmHDLC: OpaquePointer
    private var v17: OpaquePointer?
    /// The fast modem trained in the current burst (its statuses and bits count only then).
    private var trained = false
    /// A long training succeeded since the DCS: later bursts (image data) use short trains.
    private var everTrained = false
    private var v29: OpaquePointer?
    private var v27: OpaquePointer?
    private var modem = ""
    private var bitRate = 0
    private var ecm = false
    private let context: UnsafeMutablePointer<Unmanaged<ChannelDecoder>?>

    init(index: Int) throws(FaxError) {
        self.index = index
        context = .allocate(capacity: 1)
        context.initialize(to: nil)
        let user = UnsafeMutableRawPointer(context)
        guard let hdlc = hdlc_rx_init(nil, 0, 0, 5, { user, bytes, length, ok in
            guard let me = user?.assumingMemoryBound(to: Unmanaged<ChannelDecoder>?.self).pointee?.takeUnretainedValue() else { return }
            guard length > 0, ok != 0, let bytes else { return }
            me.owner?.v21Frame(Array(UnsafeBufferPointer(start: bytes, count: Int(length))), channel: me.index, time: me.seconds)
        }, user), let ecmHDLC = hdlc_rx_init(nil, 0, 0, 5, { user, bytes, length, ok in
            guard let me = user?.assumingMemoryBound(to: Unmanaged<ChannelDecoder>?.self).pointee?.takeUnretainedValue() else { return }
            guard length > 0, ok != 0, let bytes else { return }
            me.owner?.ecmFrame(Array(UnsafeBufferPointer(start: bytes, count: Int(length))), channel: me.index, time: me.seconds)
        }, user) else {
            context.deallocate()
            throw FaxError(.engineInitFailed, "spandsp could not create an HDLC receiver")
        }
        self.hdlc = hdlc
        self.ecmHDLC = ecmHDLC
        hdlc_rx_set_max_frame_len(ecmHDLC, 260)
        guard let fsk = cspandsp_fsk_rx_v21(hdlc) else {
            throw FaxError(.engineInitFailed, "spandsp could not create a V.21 receiver")
        }
        self.fsk = fsk
        // A passive decoder should hear more than a terminal does: recordings of failing calls are
        // often quiet (spandsp's own receivers give up near -30 dBm0).
        fsk_rx_signal_cutoff(fsk, -45)
        for (code, name) in [(Int32(MODEM_CONNECT_TONES_FAX_CNG), "CNG"), (Int32(MODEM_CONNECT_TONES_ANS), "CED"), (Int32(MODEM_CONNECT_TONES_ANSAM), "ANSam")] {
            if let detector = modem_connect_tones_rx_init(nil, code, nil, nil) {
                tones.append((detector, code, name, false))
            }
        }
        context.pointee = Unmanaged.passUnretained(self)
    }

    deinit {
        for tone in tones { modem_connect_tones_rx_free(tone.detector) }
        fsk_rx_free(fsk)
        hdlc_rx_free(hdlc)
        hdlc_rx_free(ecmHDLC)
        if let v17 { v17_rx_free(v17) }
        if let v29 { v29_rx_free(v29) }
        if let v27 { v27ter_rx_free(v27) }
        context.deallocate()
    }

    /// Prepares the fast modem a DCS chose; it trains on the next burst (TCF, then image data).
    func armFastModem(_ dcs: FaxCapabilities) {
        modem = dcs.modem
        bitRate = dcs.bitRate
        ecm = dcs.ecm
        everTrained = false
        trained = false
        let user = UnsafeMutableRawPointer(context)
        let putBit: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Void = { user, bit in
            guard let me = user?.assumingMemoryBound(to: Unmanaged<ChannelDecoder>?.self).pointee?.takeUnretainedValue() else { return }
            me.fastBit(bit)
        }
        switch dcs.modem {
        case "V.17":
            if v17 == nil {
                v17 = v17_rx_init(nil, Int32(bitRate), putBit, user)
                if let v17 { v17_rx_signal_cutoff(v17, -45) }
            } else {
                v17_rx_restart(v17, Int32(bitRate), 0)
            }
        case "V.29":
            if v29 == nil {
                v29 = v29_rx_init(nil, Int32(bitRate), putBit, user)
                if let v29 { v29_rx_signal_cutoff(v29, -45) }
            } else {
                v29_rx_restart(v29, Int32(bitRate), 0)
            }
        case "V.27ter":
            if v27 == nil {
                v27 = v27ter_rx_init(nil, Int32(bitRate), putBit, user)
                if let v27 { v27ter_rx_signal_cutoff(v27, -45) }
            } else {
                v27ter_rx_restart(v27, Int32(bitRate), 0)
            }
        default:
            break
        }
    }

    private func fastBit(_ bit: Int32) {
        if bit < 0 {
            switch bit {
            case Int32(SIG_STATUS_TRAINING_SUCCEEDED):
                trained = true
                everTrained = true
                owner?.fastModem(bit, channel: index, time: seconds, description: "\(modem) \(bitRate)")
            case Int32(SIG_STATUS_CARRIER_DOWN):
                if trained { owner?.fastModem(bit, channel: index, time: seconds, description: "\(modem) \(bitRate)") }
                // After a trained burst V.17 image data comes with a short train that reuses this
                // training (T.30 5.3.2; spandsp: v17_rx_restart short_train); after a failed one, long.
                restartFastModem(shortTrain: everTrained)
                trained = false
            case Int32(SIG_STATUS_TRAINING_FAILED):
                // V.21 between bursts looks like a failed training: keep waiting in the same mode.
                restartFastModem(shortTrain: everTrained)
                trained = false
            default:
                break
            }
            if ecm && trained { hdlc_rx_put_bit(ecmHDLC, bit) }
            return
        }
        guard trained else { return }
        if ecm { hdlc_rx_put_bit(ecmHDLC, bit) } else { owner?.imageBit(bit) }
    }

    private func restartFastModem(shortTrain: Bool) {
        if let v17 { v17_rx_restart(v17, Int32(bitRate), shortTrain ? 1 : 0) }
        if let v29 { v29_rx_restart(v29, Int32(bitRate), 0) }
        if let v27 { v27ter_rx_restart(v27, Int32(bitRate), 0) }
    }

    func process(_ samples: UnsafeBufferPointer<Int16>) {
        guard let base = samples.baseAddress else { return }
        let count = Int32(samples.count)
        for i in tones.indices where !tones[i].heard {
            modem_connect_tones_rx(tones[i].detector, base, count)
            if modem_connect_tones_rx_get(tones[i].detector) == tones[i].code {
                tones[i].heard = true
                owner?.tone(tones[i].name, channel: index, time: seconds)
            }
        }
        fsk_rx(fsk, base, count)
        if let v17 { v17_rx(v17, base, count) }
        if let v29 { v29_rx(v29, base, count) }
        if let v27 { v27ter_rx(v27, base, count) }
        samplesSeen += samples.count
    }
}
