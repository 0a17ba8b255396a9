import Testing
@testable import Media

/// RTP parse/classify/write tests. RFC 3550 section 5.1, RFC 5761 section 4
@Suite struct RTPTests {
    private func parse(_ bytes: [UInt8]) throws(RTPParseError) -> (RTPHeader, [UInt8]) {
        var result: Result<(RTPHeader, [UInt8]), RTPParseError> = .failure(.tooShort(-1))
        bytes.withUnsafeBytes { raw in
            do throws(RTPParseError) {
                let p = try RTPPacket.parse(raw)
                result = .success((p.header, [UInt8](p.payload)))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    private let basic: [UInt8] = [0x80, 0x00, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 9, 8, 7]

    @Test func parsesFixedHeader() throws {
        let (h, payload) = try parse(basic)
        #expect(h == RTPHeader(payloadType: 0, marker: false, sequenceNumber: 0x1234, timestamp: 0xDEAD_BEEF, ssrc: 0x0102_0304))
        #expect(payload == [9, 8, 7])
    }

    @Test func parsesMarkerAndPayloadType() throws {
        var b = basic
        b[1] = 0x80 | 8
        let (h, _) = try parse(b)
        #expect(h.marker)
        #expect(h.payloadType == 8)
    }

    @Test func payloadIsASliceOfTheInput() throws {
        basic.withUnsafeBytes { raw in
            let p = try? RTPPacket.parse(raw)
            #expect(p?.payload.baseAddress == raw.baseAddress! + 12)
        }
    }

    @Test func skipsCSRCs() throws {
        var b: [UInt8] = [0x82, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        b += [1, 1, 1, 1, 2, 2, 2, 2]  // two CSRCs
        b += [0xAA, 0xBB]
        let (h, payload) = try parse(b)
        #expect(h.sequenceNumber == 1)
        #expect(payload == [0xAA, 0xBB])
    }

    @Test func skipsExtension() throws {
        var b: [UInt8] = [0x91, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        b += [7, 7, 7, 7]                      // one CSRC
        b += [0xBE, 0xDE, 0x00, 0x02]          // extension header, 2 words
        b += [1, 2, 3, 4, 5, 6, 7, 8]
        b += [0x55]
        let (_, payload) = try parse(b)
        #expect(payload == [0x55])
    }

    @Test func removesPadding() throws {
        var b: [UInt8] = [0xA0, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        b += [1, 2, 3]
        b += [0, 0, 3]  // three padding octets, count included
        let (_, payload) = try parse(b)
        #expect(payload == [1, 2, 3])
    }

    @Test func paddingMayConsumeWholePayload() throws {
        let b: [UInt8] = [0xA0, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 2]
        let (_, payload) = try parse(b)
        #expect(payload.isEmpty)
    }

    @Test func rejectsShort() {
        #expect(throws: RTPParseError.tooShort(11)) { try parse(Array(basic.prefix(11))) }
        #expect(throws: RTPParseError.tooShort(0)) { try parse([]) }
    }

    @Test func rejectsVersion() {
        var b = basic
        b[0] = 0x40
        #expect(throws: RTPParseError.badVersion(1)) { try parse(b) }
    }

    @Test func rejectsCSRCOverrun() {
        var b = basic
        b[0] = 0x81  // one CSRC needs 4 bytes, only 3 present
        #expect(throws: RTPParseError.badCSRCCount) { try parse(b) }
    }

    @Test func rejectsExtensionOverrun() {
        var b: [UInt8] = [0x90, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        #expect(throws: RTPParseError.badExtension) { try parse(b) }
        b += [0xBE, 0xDE, 0x00, 0x01, 1, 2]  // claims 4 bytes, has 2
        #expect(throws: RTPParseError.badExtension) { try parse(b) }
    }

    @Test func rejectsBadPadding() {
        var b = basic
        b[0] = 0xA0
        b[b.count - 1] = 0
        #expect(throws: RTPParseError.badPadding) { try parse(b) }
        b[b.count - 1] = 4  // only 3 payload bytes
        #expect(throws: RTPParseError.badPadding) { try parse(b) }
    }

    @Test func errorsHaveHumanDescriptions() {
        #expect(RTPParseError.tooShort(3).description.contains("3 bytes"))
        #expect(RTPParseError.badVersion(0).description.contains("version 0"))
        #expect(!RTPParseError.badPadding.description.isEmpty)
    }

    @Test func classifies() {
        func kind(_ b: [UInt8]) -> RTPPacketKind { b.withUnsafeBytes { RTPPacket.classify($0) } }
        #expect(kind(basic) == .rtp)
        // PT 8 with marker = 0x88 is RTP; SR (200) and RR (201) are RTCP.
        var b = basic
        b[1] = 0x88
        #expect(kind(b) == .rtp)
        b[1] = 200
        #expect(kind(b) == .rtcp)
        b[1] = 201
        #expect(kind([0x81, 201, 0, 1]) == .rtcp)
        b[1] = 192
        #expect(kind(b) == .rtcp)
        b[1] = 223
        #expect(kind(b) == .rtcp)
        b[1] = 224
        #expect(kind(b) == .rtp)
        b[1] = 191
        #expect(kind(b) == .rtp)
        // STUN binding request: first two bits 00.
        #expect(kind([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) == .other)
        #expect(kind([0x80]) == .other)
        #expect(kind([0x80, 0x00, 0x00]) == .other)  // RTP runt
        #expect(kind([0x80, 200]) == .other)          // RTCP runt
        #expect(basic.withUnsafeBytes { RTPPacketKind.classify($0) } == .rtp)
    }

    @Test func writesAndReparses() throws {
        let header = RTPHeader(payloadType: 8, marker: true, sequenceNumber: 65535, timestamp: 0xFFFF_FF00, ssrc: 0xCAFE_BABE)
        let payload: [UInt8] = Array(0..<160).map { UInt8($0) }
        var out = [UInt8](repeating: 0xEE, count: 200)
        let n = out.withUnsafeMutableBytes { dst in
            payload.withUnsafeBytes { writeRTP(header: header, payload: $0, into: dst) }
        }
        #expect(n == 172)
        #expect(Array(out.prefix(12)) == [0x80, 0x88, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xCA, 0xFE, 0xBA, 0xBE])
        let (h, p) = try parse(Array(out.prefix(n)))
        #expect(h == header)
        #expect(p == payload)
        #expect(out[172] == 0xEE)
    }

    @Test func writeMasksPayloadType() throws {
        let header = RTPHeader(payloadType: 0xFF, sequenceNumber: 1, timestamp: 2, ssrc: 3)
        var out = [UInt8](repeating: 0, count: 12)
        let n = out.withUnsafeMutableBytes { writeRTP(header: header, payload: UnsafeRawBufferPointer(start: nil, count: 0), into: $0) }
        #expect(n == 12)
        #expect(out[1] == 0x7F)
    }

    @Test func writeRefusesWhenTooSmall() {
        let header = RTPHeader(payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3)
        let payload = [UInt8](repeating: 1, count: 160)
        var out = [UInt8](repeating: 0xEE, count: 171)
        let n = out.withUnsafeMutableBytes { dst in
            payload.withUnsafeBytes { writeRTP(header: header, payload: $0, into: dst) }
        }
        #expect(n == 0)
        #expect(out.allSatisfy { $0 == 0xEE })
    }
}
