/// Bridging two legs on one shard: each tick a leg sends the audio its peer received in the same
/// tick (or the tick before, when the peer ticks later), so the bridge adds at most one tick of
/// delay and no buffer. Both legs must belong to the same shard. pjmedia conference bridge (ports)
extension VoiceChannel {
    /// Joins two legs: A's received audio becomes B's outgoing audio and the other way round.
    /// An earlier bridge of either leg is undone. Shard queue. RFC 7092 section 3.1 (media relay)
    public static func bridge(_ a: VoiceChannel, _ b: VoiceChannel) {
        precondition(a !== b, "a voice channel cannot be bridged to itself")
        precondition(a.shard === b.shard, "bridged voice channels must share a shard: each reads the other's frame on its tick")
        a.assertOnShard()
        a.unbridge()
        b.unbridge()
        a.bridgePeer = b
        b.bridgePeer = a
    }

    /// Splits this leg from its peer; both send silence (or their playback) from the next tick. Shard queue. RFC 7092 section 3.1
    public func unbridge() {
        assertOnShard()
        guard let peer = bridgePeer else { return }
        bridgePeer = nil
        bridgeInputMuted = false
        if holdPlaybackID != nil { unhold() }
        peer.bridgePeer = nil
        peer.bridgeInputMuted = false
        if peer.holdPlaybackID != nil { peer.unhold() }
    }

    /// True while bridged. Shard queue.
    public var isBridged: Bool { bridgePeer != nil }

    /// Mutes one direction of the bridge: this leg sends silence to its far end instead of what
    /// the peer's far end says (the other direction keeps flowing). Shard queue. RFC 7092 section 3.1
    public func muteBridgedAudio(_ muted: Bool) {
        assertOnShard()
        bridgeInputMuted = muted
    }

    /// Puts this leg's far end on hold: it hears `music` (looped) instead of the peer, and the
    /// peer hears silence instead of it. `unhold` undoes both. Shard queue. RFC 6337 section 5.3 (hold is a media choice)
    public func hold(music: VoicePrompt, id: Int = 0) {
        assertOnShard()
        play(music, loop: true, id: id)
        holdPlaybackID = id
        bridgePeer?.bridgeInputMuted = true
    }

    /// Takes this leg's far end off hold: the music stops and both directions flow again. Shard queue. RFC 6337 section 5.3
    public func unhold() {
        assertOnShard()
        guard holdPlaybackID != nil else { return }
        holdPlaybackID = nil
        stopPlayback()
        bridgePeer?.bridgeInputMuted = false
    }

    /// True while this leg's far end is held. Shard queue.
    public var isHeld: Bool { holdPlaybackID != nil }
}
