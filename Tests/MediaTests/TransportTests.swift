import Testing
@testable import Media
#if canImport(Glibc)
import Glibc
#endif

private func send(_ t: PacketTransport, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { t.send($0) }
}

private func receive(_ t: PacketTransport, capacity: Int = 1500) -> [UInt8]? {
    var buf = [UInt8](repeating: 0, count: capacity)
    guard let n = buf.withUnsafeMutableBytes({ t.receive(into: $0) }) else { return nil }
    return Array(buf.prefix(n))
}

/// Polls a non-blocking transport for up to a second (loopback delivery is fast but not guaranteed synchronous).
private func receiveEventually(_ t: PacketTransport) -> [UInt8]? {
    for _ in 0..<1000 {
        if let d = receive(t) { return d }
        usleep(1000)
    }
    return nil
}

/// In-memory pipe tests. RFC 3550 section 11
@Suite struct MemoryPipeTests {
    @Test func fifoBothWays() {
        let (a, b) = MemoryPipe.pair()
        #expect(receive(a) == nil)
        send(a, [1]); send(a, [2, 2]); send(b, [9])
        #expect(receive(b) == [1])
        #expect(receive(b) == [2, 2])
        #expect(receive(b) == nil)
        #expect(receive(a) == [9])
        #expect(receive(a) == nil)
        send(a, [3])
        #expect(receive(b) == [3])
    }

    @Test func truncatesToBufferLikeUDP() {
        let (a, b) = MemoryPipe.pair()
        send(a, [1, 2, 3, 4])
        #expect(receive(b, capacity: 2) == [1, 2])
        #expect(receive(b) == nil)
    }

    @Test func lossIsDeterministicAndNearTheRate() {
        func survivors(seed: UInt64) -> [UInt8] {
            let (a, b) = MemoryPipe.makePair(lossRate: 0.2, seed: seed)
            for i in 0..<200 { send(a, [UInt8(i)]) }
            #expect(a.sentCount == 200)
            #expect(b.pendingCount == 200 - a.droppedCount)
            var got: [UInt8] = []
            while let d = receive(b) { got += d }
            return got
        }
        let one = survivors(seed: 42), two = survivors(seed: 42), other = survivors(seed: 7)
        #expect(one == two)
        #expect(one != other)
        #expect((130...180).contains(one.count), "kept \(one.count) of 200")
        #expect(one == one.sorted())  // FIFO order preserved
    }

    @Test func noLossByDefault() {
        let (a, b) = MemoryPipe.makePair()
        for i in 0..<1000 { send(a, [UInt8(truncatingIfNeeded: i)]) }
        #expect(a.droppedCount == 0)
        #expect(b.pendingCount == 1000)
    }

    @Test func carriesRTPThroughTheJitterBuffer() throws {
        // A lab loop: G.711 packets over a lossy pipe into a jitter buffer; losses show as missing blocks.
        let (tx, rx) = MemoryPipe.makePair(lossRate: 0.1, seed: 3)
        let jb = JitterBuffer()
        var packet = [UInt8](repeating: 0, count: 172)
        var frame = [UInt8](repeating: 0, count: 160)
        var valid = [Bool](repeating: false, count: 4)
        var rxBuf = [UInt8](repeating: 0, count: 1500)
        let payload = [UInt8](repeating: 0x55, count: 160)
        var frames = 0
        for t in 0..<100 {
            let header = RTPHeader(payloadType: 8, sequenceNumber: UInt16(t), timestamp: UInt32(160 * t), ssrc: 1)
            let n = packet.withUnsafeMutableBytes { out in payload.withUnsafeBytes { writeRTP(header: header, payload: $0, into: out) } }
            packet.withUnsafeBytes { tx.send(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            try rxBuf.withUnsafeMutableBytes { buf in
                while let len = rx.receive(into: buf) {
                    let bytes = UnsafeRawBufferPointer(rebasing: buf[0..<len])
                    #expect(RTPPacket.classify(bytes) == .rtp)
                    let p = try RTPPacket.parse(bytes)
                    _ = jb.insert(timestamp: p.header.timestamp, payload: p.payload)
                }
            }
            let r = frame.withUnsafeMutableBytes { f in valid.withUnsafeMutableBufferPointer { jb.pop(frameSamples: 160, into: f, validBlocks: $0) } }
            if case .frame = r { frames += 1 }
        }
        #expect(tx.droppedCount > 0)
        #expect(frames >= 90 && frames <= 97)
        // Each lost packet that fell due shows as exactly 4 missing blocks; nothing else is missing.
        #expect(jb.statistics.missingBlocks % 4 == 0)
        #expect(jb.statistics.missingBlocks / 4 <= tx.droppedCount)
        #expect(jb.statistics.packets == 100 - tx.droppedCount)
        #expect(jb.statistics.late == 0)
    }
}

/// Real UDP socket tests on loopback; serialized because they reason about which ports are free. RFC 768
@Suite(.serialized) struct UDPSocketTests {
    @Test func twoSocketsExchangeDatagrams() throws {
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let b = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        #expect(a.localPort != 0 && b.localPort != 0 && a.localPort != b.localPort)
        #expect(a.remoteDescription == nil)
        try a.setRemote(host: "127.0.0.1", port: b.localPort)
        #expect(a.remoteDescription == "127.0.0.1:\(b.localPort)")
        #expect(receive(b) == nil)  // non-blocking: nothing waiting
        send(a, [1, 2, 3])
        #expect(receiveEventually(b) == [1, 2, 3])
        // b had no remote; receiving latched it to a, so it can answer.
        #expect(b.remoteDescription == "127.0.0.1:\(a.localPort)")
        send(b, [4, 5])
        #expect(receiveEventually(a) == [4, 5])
        #expect(a.droppedSends == 0 && b.droppedSends == 0)
    }

    /// Datagrams come in batches of recvmmsg: all waiting ones are returned in order, a short
    /// batch ends the caller's loop without another system call, later ones come on the next loop,
    /// and a datagram too big for the batch buffers is dropped and counted.
    @Test func batchedReceiveReturnsEveryDatagramInOrder() throws {
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let b = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        try a.setRemote(host: "127.0.0.1", port: b.localPort)
        for i in 0..<6 { send(a, [UInt8(i), 0xAA]) }
        #expect(receiveEventually(b) == [0, 0xAA])
        var got: [[UInt8]] = []
        while let next = receive(b) { got.append(next) }
        #expect(got == (1..<6).map { [UInt8($0), 0xAA] })
        // The loop ended: the next one starts a new batch and finds the socket empty.
        #expect(receive(b) == nil)
        send(a, [9])
        #expect(receiveEventually(b) == [9])
        send(a, [UInt8](repeating: 7, count: UDPSocket.datagramCapacity + 1))
        send(a, [10])
        #expect(receiveEventually(b) == [10])
        #expect(b.oversizedDatagrams == 1)
    }

    @Test func latchesToANewSource() throws {
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let b = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let c = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        // SDP said b, but the media actually comes from c (e.g. behind NAT).
        try a.setRemote(host: "127.0.0.1", port: b.localPort)
        try c.setRemote(host: "127.0.0.1", port: a.localPort)
        send(c, [7])
        #expect(receiveEventually(a) == [7])
        #expect(a.remoteDescription == "127.0.0.1:\(c.localPort)")
        #expect(a.remoteChanges == 1)
        send(a, [8])
        #expect(receiveEventually(c) == [8])
        #expect(receive(b) == nil)
        // Same source again does not count as a change.
        send(c, [9])
        #expect(receiveEventually(a) == [9])
        #expect(a.remoteChanges == 1)
    }

    /// Before the stream is confirmed, strangers spraying the port cannot take it from the address
    /// SDP gave while that address is talking (a loaded machine confirmed the stream late once, and
    /// the stream hopped between the sprayers and the far end); a source other than the SDP's is
    /// still followed when the SDP's address is silent (NAT), as above.
    @Test func strangersCannotTakeAnUnconfirmedStreamFromTheSDPAddress() throws {
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let sdp = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let stranger = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        try a.setRemote(host: "127.0.0.1", port: sdp.localPort)
        try sdp.setRemote(host: "127.0.0.1", port: a.localPort)
        try stranger.setRemote(host: "127.0.0.1", port: a.localPort)
        // A stranger first: nothing from the SDP's address yet, so it is followed (it may be NAT).
        send(stranger, [1])
        #expect(receiveEventually(a) == [1])
        #expect(a.remoteDescription == "127.0.0.1:\(stranger.localPort)")
        // The SDP's address speaks: it takes the stream back, and the stranger is dropped.
        send(sdp, [2])
        #expect(receiveEventually(a) == [2])
        #expect(!a.isLocked && a.remoteDescription == "127.0.0.1:\(sdp.localPort)")
        send(stranger, [3])
        send(sdp, [4])
        #expect(receiveEventually(a) == [4], "the stranger's datagram never reached the channel")
        #expect(a.foreignDatagrams == 1 && a.remoteDescription == "127.0.0.1:\(sdp.localPort)")
        // Once the SDP's address has been silent for a second, another source may follow again.
        usleep(UInt32(UDPSocket.takeoverSilence / 1000) + 100_000)
        send(stranger, [5])
        #expect(receiveEventually(a) == [5])
        #expect(a.remoteDescription == "127.0.0.1:\(stranger.localPort)")
    }

    /// Sends `bytes` from `from`, reads it on `a` and confirms it as media, `times` times.
    func confirm(_ a: UDPSocket, from: UDPSocket, times: Int = 1) {
        for i in 0..<times {
            send(from, [UInt8(i)])
            _ = receiveEventually(a)
            a.confirmSource()
        }
    }

    /// The socket locks to its media source: at once to the address SDP gave, after
    /// `probation` confirmations in a row to another (NAT); then datagrams from anywhere else are
    /// dropped and counted. The SDP's address always takes over; any source may once the locked
    /// one has been silent for a second; a new SDP address, and `relearnSource`, learn again.
    @Test func aConfirmedSourceLocksOutOthers() throws {
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let peer = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let stranger = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let sdp = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let other = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        try a.setRemote(host: "127.0.0.1", port: sdp.localPort)
        for s in [peer, stranger, sdp, other] { try s.setRemote(host: "127.0.0.1", port: a.localPort) }
        // Unlocked, a datagram is read and followed whatever its source.
        send(stranger, [1])
        #expect(receiveEventually(a) == [1])
        #expect(a.remoteDescription == "127.0.0.1:\(stranger.localPort)")
        // Not the SDP's address: a few confirmations are not enough, and a confirmation from
        // another source in between starts the count again.
        confirm(a, from: peer, times: UDPSocket.probation - 1)
        confirm(a, from: stranger)
        confirm(a, from: peer, times: UDPSocket.probation - 1)
        #expect(!a.isLocked)
        confirm(a, from: peer)
        #expect(a.isLocked && a.remoteDescription == "127.0.0.1:\(peer.localPort)")
        send(stranger, [3])
        send(peer, [4])
        #expect(receiveEventually(a) == [4], "the stranger's datagram never reached the channel")
        #expect(a.foreignDatagrams == 1)
        send(a, [5])
        #expect(receiveEventually(peer) == [5])
        #expect(receive(stranger) == nil)
        // A session refresh with the address SDP gave before: still locked to the peer.
        try a.setRemote(host: "127.0.0.1", port: sdp.localPort)
        #expect(a.isLocked && a.remoteDescription == "127.0.0.1:\(peer.localPort)")
        // The SDP's address always gets through (a stale stream to a reused port may have been
        // confirmed first), and one confirmation locks to it.
        send(sdp, [40])
        #expect(receiveEventually(a) == [40])
        #expect(!a.isLocked && a.remoteDescription == "127.0.0.1:\(sdp.localPort)")
        a.confirmSource()
        #expect(a.isLocked)
        send(peer, [41])
        send(sdp, [42])
        #expect(receiveEventually(a) == [42])
        #expect(a.foreignDatagrams == 2)
        // The locked source goes quiet (NAT rebinding, SBC failover): after a second another
        // source is taken again.
        usleep(UInt32(UDPSocket.takeoverSilence / 1000) + 100_000)
        send(other, [43])
        #expect(receiveEventually(a) == [43])
        #expect(!a.isLocked && a.remoteDescription == "127.0.0.1:\(other.localPort)")
        #expect(a.foreignDatagrams == 2)
        // A new address from SDP: followed and learnt again.
        try a.setRemote(host: "127.0.0.1", port: stranger.localPort)
        #expect(!a.isLocked && a.remoteDescription == "127.0.0.1:\(stranger.localPort)")
        // relearnSource (the switch to T.38): locked to a source that is not the SDP's, then
        // another source is taken at once.
        confirm(a, from: peer, times: UDPSocket.probation)
        #expect(a.isLocked && a.remoteDescription == "127.0.0.1:\(peer.localPort)")
        a.relearnSource()
        send(other, [44])
        #expect(receiveEventually(a) == [44])
        #expect(a.remoteDescription == "127.0.0.1:\(other.localPort)")
        #expect(a.foreignDatagrams == 2)
    }

    @Test func latchingCanBeDisabled() throws {
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let b = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let c = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        a.latchToSource = false
        try a.setRemote(host: "127.0.0.1", port: b.localPort)
        try c.setRemote(host: "127.0.0.1", port: a.localPort)
        send(c, [7])
        #expect(receiveEventually(a) == [7])
        #expect(a.remoteDescription == "127.0.0.1:\(b.localPort)")
    }

    @Test func sendWithoutRemoteDrops() throws {
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        send(a, [1])
        #expect(a.droppedSends == 1)
    }

    @Test func ipv6Loopback() throws {
        let a = try UDPSocket(bindHost: "::1", port: 0)
        let b = try UDPSocket(bindHost: "[::1]", port: 0)
        try a.setRemote(host: "::1", port: b.localPort)
        #expect(a.remoteDescription == "[::1]:\(b.localPort)")
        send(a, [6, 6])
        #expect(receiveEventually(b) == [6, 6])
        #expect(b.remoteDescription == "[::1]:\(a.localPort)")
    }

    @Test func ipv4RemoteOnDualStackSocketIsMapped() throws {
        let a = try UDPSocket(bindHost: "::", port: 0)
        let b = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        try a.setRemote(host: "127.0.0.1", port: b.localPort)
        #expect(a.remoteDescription == "[::ffff:127.0.0.1]:\(b.localPort)")
        send(a, [1])
        #expect(receiveEventually(b) == [1])
    }

    @Test func rejectsBadAddresses() throws {
        #expect(throws: UDPSocketError.invalidAddress("example.com")) { try UDPSocket(bindHost: "example.com", port: 0) }
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        #expect(throws: UDPSocketError.invalidAddress("not-an-ip")) { try a.setRemote(host: "not-an-ip", port: 5) }
        #expect(throws: UDPSocketError.addressFamilyMismatch("::1")) { try a.setRemote(host: "::1", port: 5) }
        a.close()
        #expect(!a.isOpen)
        #expect(throws: UDPSocketError.closed) { try a.setRemote(host: "127.0.0.1", port: 5) }
        #expect(receive(a) == nil)
    }

    @Test func busyPortFailsWithEADDRINUSE() throws {
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        #expect(throws: UDPSocketError.bindFailed(host: "127.0.0.1", port: a.localPort, errno: EADDRINUSE)) {
            try UDPSocket(bindHost: "127.0.0.1", port: a.localPort)
        }
    }

    /// Finds a bound socket on an even port p whose neighbours p+1...p+2 are free right now.
    private func busyEvenPort() throws -> UDPSocket {
        for _ in 0..<200 {
            let s = try UDPSocket(bindHost: "127.0.0.1", port: 0)
            let p = s.localPort
            guard p % 2 == 0, p < 65530 else { continue }
            if let probe = try? UDPSocket(bindHost: "127.0.0.1", port: p + 2), (try? UDPSocket(bindHost: "127.0.0.1", port: p + 1)) != nil {
                probe.close()
                return s
            }
        }
        throw UDPSocketError.closed
    }

    @Test func bindInRangeSkipsABusyPort() throws {
        let busy = try busyEvenPort()
        let p = busy.localPort
        var hint = p
        let s = try UDPSocket.bindInRange(host: "127.0.0.1", ports: p...(p + 3), startingAt: &hint)
        #expect(s.localPort == p + 2)
        #expect(hint == p)  // round-robin wraps to the start of the range

        s.close()
        var oddHint = p
        let t = try UDPSocket.bindInRange(host: "127.0.0.1", ports: p...(p + 1), even: false, startingAt: &oddHint)
        #expect(t.localPort == p + 1)
    }

    @Test func bindInRangeRoundsHintAndAdvances() throws {
        let busy = try busyEvenPort()
        let p = busy.localPort
        busy.close()
        var hint = p + 1  // odd hint rounds up to p+2
        let s = try UDPSocket.bindInRange(host: "127.0.0.1", ports: p...(p + 2), startingAt: &hint)
        #expect(s.localPort == p + 2)
        #expect(hint == p)
        let t = try UDPSocket.bindInRange(host: "127.0.0.1", ports: p...(p + 2), startingAt: &hint)
        #expect(t.localPort == p)
        #expect(hint == p + 2)
    }

    @Test func bindInRangeExhausted() throws {
        let busy = try busyEvenPort()
        let p = busy.localPort
        var hint: UInt16 = 0
        do {
            _ = try UDPSocket.bindInRange(host: "127.0.0.1", ports: p...(p + 1), startingAt: &hint)
            Issue.record("expected PortRangeExhausted")
        } catch let e as PortRangeExhausted {
            #expect(e.range == p...(p + 1))
            #expect(e.description == "no free even UDP port in \(p)-\(p + 1) on 127.0.0.1")
        }
        #expect(throws: PortRangeExhausted.self) {
            var h: UInt16 = 0
            _ = try UDPSocket.bindInRange(host: "127.0.0.1", ports: 7...7, even: true, startingAt: &h)
        }
        #expect(throws: UDPSocketError.invalidAddress("nope")) {
            var h: UInt16 = 0
            _ = try UDPSocket.bindInRange(host: "nope", ports: 40000...40010, startingAt: &h)
        }
    }

    @Test func errorDescriptionsAreHuman() {
        #expect(UDPSocketError.bindFailed(host: "1.2.3.4", port: 5, errno: EADDRINUSE).description.contains("Address already in use"))
        #expect(UDPSocketError.invalidAddress("x").description.contains("x"))
    }

    @Test func muxedRTCPIsClassifiedAndIgnorable() throws {
        let a = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        let b = try UDPSocket(bindHost: "127.0.0.1", port: 0)
        try a.setRemote(host: "127.0.0.1", port: b.localPort)
        send(a, [0x80, 200, 0, 6, 0, 0, 0, 1])  // RTCP SR header on the RTP port
        let d = try #require(receiveEventually(b))
        #expect(d.withUnsafeBytes { RTPPacket.classify($0) } == .rtcp)
    }
}
