import Media
import Voice

/// A call's media channel, audio or T.38: ticks on a shard and can be stopped from outside.
protocol CallMedia: MediaTickable {
    /// Stops and reports. Shard queue.
    func stop()
}

extension AudioChannel: CallMedia {}
extension T38Channel: CallMedia {}
extension VoiceChannel: CallMedia {}
