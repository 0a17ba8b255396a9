// Preallocated storage behind UDPTLEncoder and UDPTLDecoder.
//
// Both are final classes owning raw memory allocated once in init. They are `@unchecked Sendable`
// because the owning structs use copy-on-write: a mutating method first checks
// `isKnownUniquelyReferenced` and copies otherwise, so a storage object that is shared between values
// (and possibly threads) is never written. Each encoder/decoder value itself must be used from one
// thread at a time (in faxd: confined to its media shard queue), like any other struct.

/// Ring of the last sent IFPs, indexed by the count of packets sent.
final class UDPTLEncoderHistory: @unchecked Sendable {
    let slotCount: Int
    let slotCapacity: Int
    private let bytes: UnsafeMutableRawPointer
    private let lengths: UnsafeMutablePointer<Int>

    /// `slotCount` is rounded up to a power of two.
    init(slotCount requested: Int, slotCapacity: Int) {
        var count = 1
        while count < requested { count <<= 1 }
        slotCount = count
        self.slotCapacity = slotCapacity
        bytes = UnsafeMutableRawPointer.allocate(byteCount: count * slotCapacity, alignment: 16)
        lengths = UnsafeMutablePointer<Int>.allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
    }

    func copy() -> UDPTLEncoderHistory {
        let c = UDPTLEncoderHistory(slotCount: slotCount, slotCapacity: slotCapacity)
        c.bytes.copyMemory(from: bytes, byteCount: slotCount * slotCapacity)
        c.lengths.update(from: lengths, count: slotCount)
        return c
    }

    deinit {
        bytes.deallocate()
        lengths.deinitialize(count: slotCount)
        lengths.deallocate()
    }

    @inline(__always)
    func slot(_ index: Int) -> UnsafeMutableRawPointer {
        bytes + (index & (slotCount - 1)) * slotCapacity
    }

    @inline(__always)
    func length(_ index: Int) -> Int {
        lengths[index & (slotCount - 1)]
    }

    func store(_ index: Int, _ ifp: UnsafeRawBufferPointer) {
        let n = min(ifp.count, slotCapacity)
        if n > 0, let src = ifp.baseAddress {
            slot(index).copyMemory(from: src, byteCount: n)
        }
        lengths[index & (slotCount - 1)] = n
    }
}

/// The decoder's window of the last `slotCount` sequence numbers (extended to Int, never wrapping):
/// IFPs received or recovered, plus the FEC parity entries that came with them.
final class UDPTLDecoderWindow: @unchecked Sendable {
    static let slotCount = 32
    static let mask = slotCount - 1
    static let maxFECEntries = UDPTLErrorCorrection.maxFECEntries

    enum State: UInt8 {
        case empty
        case received
        case redundancy
        case fec
    }

    struct Meta {
        var seq: Int = Int.min
        var length: Int = 0
        var state: State = .empty
        var fecSpan: Int = 0
        var fecEntries: Int = 0
    }

    /// The longest IFP a slot may have to hold (the decoder's maxIFPSize).
    let capacity: Int
    /// Bytes per slot now: IFPs are short (spandsp sends 30 ms of data per IFP, 54 bytes at
    /// 14,400 bit/s), so slots start at 128 bytes and grow (to at most `capacity`) the first time
    /// a longer IFP or parity entry arrives: 4 KB per call instead of 32 x T38FaxMaxDatagram.
    private(set) var stride: Int
    private let meta: UnsafeMutablePointer<Meta>
    private let fecLengths: UnsafeMutablePointer<Int>
    private var ifp: UnsafeMutableRawPointer
    /// Parity storage, allocated the first time an FEC packet arrives (redundancy-only streams never
    /// pay for it).
    private var fec: UnsafeMutableRawPointer?

    init(capacity: Int, stride: Int? = nil) {
        self.capacity = capacity
        self.stride = stride ?? min(capacity, 128)
        let n = Self.slotCount
        meta = UnsafeMutablePointer<Meta>.allocate(capacity: n)
        meta.initialize(repeating: Meta(), count: n)
        fecLengths = UnsafeMutablePointer<Int>.allocate(capacity: n * Self.maxFECEntries)
        fecLengths.initialize(repeating: 0, count: n * Self.maxFECEntries)
        ifp = UnsafeMutableRawPointer.allocate(byteCount: max(1, n * self.stride), alignment: 16)
    }

    /// Makes every slot hold at least `length` bytes, moving what the slots hold.
    @inline(__always)
    private func ensure(_ length: Int) {
        if length > stride { grow(to: length) }
    }

    private func grow(to length: Int) {
        var wider = stride
        while wider < length { wider *= 2 }
        wider = min(max(wider, length), capacity)
        let n = Self.slotCount
        let moved = UnsafeMutableRawPointer.allocate(byteCount: n * wider, alignment: 16)
        for slot in 0..<n { (moved + slot * wider).copyMemory(from: ifp + slot * stride, byteCount: stride) }
        ifp.deallocate()
        ifp = moved
        if let fec {
            let entries = n * Self.maxFECEntries
            let movedFEC = UnsafeMutableRawPointer.allocate(byteCount: entries * wider, alignment: 16)
            for entry in 0..<entries { (movedFEC + entry * wider).copyMemory(from: fec + entry * stride, byteCount: stride) }
            fec.deallocate()
            self.fec = movedFEC
        }
        stride = wider
    }

    func copy() -> UDPTLDecoderWindow {
        let n = Self.slotCount
        let c = UDPTLDecoderWindow(capacity: capacity, stride: stride)
        c.meta.update(from: meta, count: n)
        c.fecLengths.update(from: fecLengths, count: n * Self.maxFECEntries)
        c.ifp.copyMemory(from: ifp, byteCount: n * stride)
        if let fec {
            c.allocateFEC()
            c.fec!.copyMemory(from: fec, byteCount: n * Self.maxFECEntries * stride)
        }
        return c
    }

    deinit {
        meta.deinitialize(count: Self.slotCount)
        meta.deallocate()
        fecLengths.deinitialize(count: Self.slotCount * Self.maxFECEntries)
        fecLengths.deallocate()
        ifp.deallocate()
        fec?.deallocate()
    }

    var hasFEC: Bool { fec != nil }

    func allocateFEC() {
        if fec == nil {
            fec = UnsafeMutableRawPointer.allocate(
                byteCount: max(1, Self.slotCount * Self.maxFECEntries * stride), alignment: 16)
        }
    }

    @inline(__always)
    func isPresent(_ seq: Int) -> Bool {
        let m = meta[seq & Self.mask]
        return m.seq == seq && m.state != .empty
    }

    @inline(__always)
    func state(_ seq: Int) -> State {
        let m = meta[seq & Self.mask]
        return m.seq == seq ? m.state : .empty
    }

    @inline(__always)
    func length(_ seq: Int) -> Int { meta[seq & Self.mask].length }

    @inline(__always)
    func bytes(_ seq: Int) -> UnsafeMutableRawPointer { ifp + (seq & Self.mask) * stride }

    @inline(__always)
    func fecSpan(_ seq: Int) -> Int { meta[seq & Self.mask].fecSpan }

    @inline(__always)
    func fecEntries(_ seq: Int) -> Int { meta[seq & Self.mask].fecEntries }

    @inline(__always)
    func fecLength(_ seq: Int, _ entry: Int) -> Int {
        fecLengths[(seq & Self.mask) * Self.maxFECEntries + entry]
    }

    @inline(__always)
    func fecBytes(_ seq: Int, _ entry: Int) -> UnsafeMutableRawPointer {
        fec! + ((seq & Self.mask) * Self.maxFECEntries + entry) * stride
    }

    /// Marks the slot of `seq` as holding nothing for `seq`.
    @inline(__always)
    func clear(_ seq: Int) {
        meta[seq & Self.mask] = Meta(seq: seq)
    }

    func clearAll() {
        for i in 0..<Self.slotCount { meta[i] = Meta() }
    }

    /// Stores an IFP for `seq` (length <= capacity), dropping any FEC data the slot had.
    @inline(__always)
    func store(_ seq: Int, from src: UnsafeRawPointer?, length: Int, state: State) {
        ensure(length)
        if length > 0, let src {
            bytes(seq).copyMemory(from: src, byteCount: length)
        }
        meta[seq & Self.mask] = Meta(seq: seq, length: length, state: state)
    }

    /// Marks `seq` as rebuilt in place (its bytes were written through `bytes(seq)`).
    @inline(__always)
    func markRebuilt(_ seq: Int, length: Int) {
        meta[seq & Self.mask] = Meta(seq: seq, length: length, state: .fec)
    }

    /// Records the FEC parameters of the packet `seq` (whose primary is stored); entries are then
    /// copied with `storeFECEntry`.
    @inline(__always)
    func setFEC(_ seq: Int, span: Int, entries: Int) {
        let i = seq & Self.mask
        meta[i].fecSpan = span
        meta[i].fecEntries = entries
    }

    @inline(__always)
    func storeFECEntry(_ seq: Int, _ entry: Int, from src: UnsafeRawPointer?, length: Int) {
        ensure(length)
        if length > 0, let src {
            fecBytes(seq, entry).copyMemory(from: src, byteCount: length)
        }
        fecLengths[(seq & Self.mask) * Self.maxFECEntries + entry] = length
    }
}
