import Dispatch
import Foundation
import Lab

/// What a finished recording holds. RIFF WAVE (Microsoft)
public struct VoiceRecordingSummary: Sendable, Equatable {
    /// Where the WAV was written.
    public var path: String
    /// Frames per channel (8000 a second).
    public var samples: Int
    /// Seconds recorded.
    public var seconds: Double { Double(samples) / 8000 }
}

/// Both directions of a call, 20 ms at a time, in one-second stereo blocks (left what the far end
/// sent us, right what we sent). Appending never moves what was recorded; the list of blocks is
/// reserved for the whole call when recording starts, so a tick allocates at most one 32 KB block
/// a second. Confined to the channel's shard until detached, then written from a utility queue.
/// RIFF WAVE (Microsoft)
final class VoiceRecorder: @unchecked Sendable {
    static let blockFrames = 8000

    let path: String
    private var blocks: [UnsafeMutableBufferPointer<Int16>] = []
    private var used = 0
    private let maxBlocks: Int
    /// Which channel what we received goes to: 0 (left) or 1 (right).
    private let receivedChannel: Int

    /// Prepares a recording of at most `maxSeconds`; allocates the first block now.
    init(path: String, maxSeconds: Int, receivedLeft: Bool = true) {
        self.path = path
        receivedChannel = receivedLeft ? 0 : 1
        maxBlocks = max(1, maxSeconds)
        blocks.reserveCapacity(maxBlocks)
        blocks.append(Self.block())
    }

    deinit { for block in blocks { block.deallocate() } }

    private static func block() -> UnsafeMutableBufferPointer<Int16> {
        let block = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 2 * blockFrames)
        block.initialize(repeating: 0)
        return block
    }

    /// Blocks allocated so far.
    var blockCount: Int { blocks.count }

    /// Frames recorded so far.
    var frames: Int { (blocks.count - 1) * Self.blockFrames + used }

    /// Appends one frame of each direction (equal lengths). Shard queue.
    func append(received: UnsafeBufferPointer<Int16>, sent: UnsafeBufferPointer<Int16>) {
        for i in 0..<received.count {
            if used == Self.blockFrames {
                // Full for the whole call: stop recording rather than grow without bound.
                guard blocks.count < maxBlocks else { return }
                blocks.append(Self.block())
                used = 0
            }
            let block = blocks[blocks.count - 1]
            block[2 * used + receivedChannel] = received[i]
            block[2 * used + 1 - receivedChannel] = sent[i]
            used += 1
        }
    }

    /// Writes the WAV (16-bit PCM stereo). Blocking: a utility queue, never a shard.
    func write() throws(VoiceError) -> VoiceRecordingSummary {
        let n = frames
        var left = [Int16](repeating: 0, count: n)
        var right = [Int16](repeating: 0, count: n)
        var at = 0
        for (index, block) in blocks.enumerated() {
            let count = index == blocks.count - 1 ? used : Self.blockFrames
            for i in 0..<count {
                left[at] = block[2 * i]
                right[at] = block[2 * i + 1]
                at += 1
            }
        }
        do {
            try Recording(channels: [left, right]).write(path)
        } catch {
            throw VoiceError("recording: \(error.description)")
        }
        return VoiceRecordingSummary(path: path, samples: n)
    }
}
