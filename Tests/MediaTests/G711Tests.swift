import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Media

/// G.711 bit-exactness and quality tests. ITU-T G.711
@Suite struct G711Tests {
    // FNV-1a 64 over the reference outputs, computed from spandsp's g711.h inline functions:
    // encoders over every Int16 from -32768 to 32767, decoders over codes 0...255 (low byte, then high byte).
    private static let ulawEncodeHash: UInt64 = 0x94d7_5252_14c7_5eb2
    private static let alawEncodeHash: UInt64 = 0xf030_666e_b780_cf25
    private static let ulawDecodeHash: UInt64 = 0xb91e_65d6_8481_a1a8
    private static let alawDecodeHash: UInt64 = 0x693a_40ca_62a3_d2a5

    private struct FNV {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        mutating func add(_ b: UInt8) {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
    }

    @Test func encodersMatchReferenceBitExactly() {
        var u = FNV(), a = FNV()
        for s in Int16.min...Int16.max {
            u.add(G711.linearToULaw(s))
            a.add(G711.linearToALaw(s))
        }
        #expect(u.h == Self.ulawEncodeHash)
        #expect(a.h == Self.alawEncodeHash)
    }

    @Test func decodersMatchReferenceBitExactly() {
        var u = FNV(), a = FNV()
        for c in UInt8.min...UInt8.max {
            let x = UInt16(bitPattern: G711.ulawToLinear(c)), y = UInt16(bitPattern: G711.alawToLinear(c))
            u.add(UInt8(x & 0xFF)); u.add(UInt8(x >> 8))
            a.add(UInt8(y & 0xFF)); a.add(UInt8(y >> 8))
            #expect(G711.ulawToLinear(c) == G711.ulawToLinearArithmetic(c))
            #expect(G711.alawToLinear(c) == G711.alawToLinearArithmetic(c))
        }
        #expect(u.h == Self.ulawDecodeHash)
        #expect(a.h == Self.alawDecodeHash)
    }

    @Test func knownValues() {
        #expect(G711.ulawToLinear(0xFF) == 0)
        #expect(G711.ulawToLinear(0x7F) == 0)
        #expect(G711.ulawToLinear(0x80) == 32124)
        #expect(G711.ulawToLinear(0x00) == -32124)
        #expect(G711.alawToLinear(0xD5) == 8)
        #expect(G711.alawToLinear(0x55) == -8)
        #expect(G711.alawToLinear(0xAA) == 32256)
        #expect(G711.alawToLinear(0x2A) == -32256)

        #expect(G711.linearToULaw(0) == 0xFF)
        #expect(G711.linearToULaw(32767) == 0x80)
        #expect(G711.linearToULaw(32635) == 0x80)   // clip point of the reference
        #expect(G711.linearToULaw(-32768) == 0x00)
        #expect(G711.linearToALaw(0) == 0xD5)
        #expect(G711.linearToALaw(-1) == 0x55)
        #expect(G711.linearToALaw(32767) == 0xAA)
        #expect(G711.linearToALaw(-32768) == 0x2A)
    }

    @Test func roundTripOfAllCodes() {
        for c in UInt8.min...UInt8.max {
            // mu-law has two zeros (0x7F is "negative zero"); the reference encodes 0 as 0xFF.
            let expectedU: UInt8 = c == 0x7F ? 0xFF : c
            #expect(G711.linearToULaw(G711.ulawToLinear(c)) == expectedU, "mu-law code \(c)")
            #expect(G711.linearToALaw(G711.alawToLinear(c)) == c, "A-law code \(c)")
        }
    }

    @Test func decoderIsMonotonic() {
        // Codes sorted by decoded value must be strictly increasing, except mu-law's double zero.
        for law in G711Law.allCases {
            let values = (0...255).map { c in law == .mulaw ? G711.ulawToLinear(UInt8(c)) : G711.alawToLinear(UInt8(c)) }
            #expect(Set(values).count == (law == .mulaw ? 255 : 256))
        }
    }

    @Test(arguments: G711Law.allCases)
    func sineThroughBufferAPIs(law: G711Law) {
        let n = 8000
        var linear = [Int16](repeating: 0, count: n)
        for i in 0..<n {
            // 1004 Hz at about -3 dBm0-ish amplitude; avoids a frequency that divides 8 kHz.
            let v = 20000.0 * sin(2.0 * Double.pi * 1004.0 * Double(i) / 8000.0)
            linear[i] = Int16(v.rounded())
        }
        var codes = [UInt8](repeating: 0, count: n)
        var back = [Int16](repeating: 0, count: n)
        let encoded = linear.withUnsafeBufferPointer { src in codes.withUnsafeMutableBytes { G711.encode(law, src, into: $0) } }
        let decoded = codes.withUnsafeBytes { src in back.withUnsafeMutableBufferPointer { G711.decode(law, src, into: $0) } }
        #expect(encoded == n && decoded == n)

        var signal = 0.0, noise = 0.0
        for i in 0..<n {
            let x = Int(linear[i]), y = Int(back[i])
            let err = abs(x - y)
            // Half a quantization step: at most |x|/32 + 8 for both laws in this 16-bit scale.
            #expect(err <= abs(x) / 32 + 9, "sample \(i): \(x) -> \(y)")
            signal += Double(x * x)
            noise += Double(err * err)
        }
        let snr = 10 * log10(signal / noise)
        #expect(snr > 33, "SNR \(snr) dB")  // G.711 gives about 38 dB for a loud sine
    }

    @Test func bufferAPIsClampToShorterSide() {
        let codes: [UInt8] = [0xFF, 0x80, 0x00]
        var out = [Int16](repeating: 7, count: 2)
        let n = codes.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { G711.decode(.mulaw, src, into: $0) } }
        #expect(n == 2)
        #expect(out == [0, 32124])
        var enc = [UInt8](repeating: 0, count: 4)
        let m = out.withUnsafeBufferPointer { src in enc.withUnsafeMutableBytes { G711.encode(.alaw, src, into: $0) } }
        #expect(m == 2)
        #expect(enc[2] == 0 && enc[3] == 0)
    }

    @Test func lawMetadata() {
        #expect(G711Law.mulaw.payloadType == 0)
        #expect(G711Law.alaw.payloadType == 8)
        #expect(G711Law.mulaw.encodingName == "PCMU")
        #expect(G711Law.alaw.encodingName == "PCMA")
        #expect(G711Law(payloadType: 8) == .alaw)
        #expect(G711Law(payloadType: 0) == .mulaw)
        #expect(G711Law(payloadType: 18) == nil)
        #expect(G711.ulawToLinear(G711Law.mulaw.silenceByte) == 0)
        #expect(G711.linearToALaw(0) == G711Law.alaw.silenceByte)
    }
}
