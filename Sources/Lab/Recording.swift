import Foundation
import Media

/// Fax audio: 8 kHz 16-bit samples, one array per channel (one direction per channel).
public struct Recording: Sendable, Equatable {
    public var channels: [[Int16]]
    public var sampleRate = 8000

    public init(channels: [[Int16]]) { self.channels = channels }

    public var seconds: Double { Double(channels.first?.count ?? 0) / Double(sampleRate) }

    /// Reads a WAV file (PCM 16-bit, or G.711 A-law/mu-law, 8 kHz, mono or stereo) or a raw G.711
    /// file (`.ulaw`, `.mulaw`, `.ul`, `.pcmu`; `.alaw`, `.al`, `.pcma`; mono).
    public static func read(_ path: String) throws(LabError) -> Recording {
        guard let contents = FileManager.default.contents(atPath: path) else { throw LabError("\(path): cannot read the file") }
        let bytes = [UInt8](contents)
        let ext = (path as NSString).pathExtension.lowercased()
        if ["ulaw", "mulaw", "ul", "pcmu", "u8"].contains(ext) { return Recording(channels: [bytes.map(G711.ulawToLinear)]) }
        if ["alaw", "al", "pcma", "a8"].contains(ext) { return Recording(channels: [bytes.map(G711.alawToLinear)]) }
        guard bytes.count >= 12, bytes[0..<4] == [0x52, 0x49, 0x46, 0x46], bytes[8..<12] == [0x57, 0x41, 0x56, 0x45] else {
            throw LabError("\(path): not a WAV file (no RIFF/WAVE header) and not .ulaw/.alaw raw audio")
        }
        var format = 0, channels = 0, rate = 0, bits = 0
        var position = 12
        var samples: ArraySlice<UInt8>?
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        while position + 8 <= bytes.count {
            let id = String(decoding: bytes[position..<(position + 4)], as: UTF8.self)
            let size = u32(position + 4)
            let body = position + 8
            guard body + size <= bytes.count || id == "data" else { throw LabError("\(path): chunk '\(id)' runs past the end of the file") }
            if id == "fmt " {
                guard size >= 16 else { throw LabError("\(path): fmt chunk too short") }
                format = u16(body)
                channels = u16(body + 2)
                rate = u32(body + 4)
                bits = u16(body + 14)
                if format == 0xFFFE, size >= 26 { format = u16(body + 24) }  // WAVE_FORMAT_EXTENSIBLE
            } else if id == "data" {
                samples = bytes[body..<min(bytes.count, body + size)]
            }
            position = body + size + (size & 1)
        }
        guard let samples else { throw LabError("\(path): no data chunk") }
        guard rate == 8000 else { throw LabError("\(path): \(rate) Hz; fax recordings must be 8000 Hz") }
        guard channels == 1 || channels == 2 else { throw LabError("\(path): \(channels) channels; expected 1 or 2 (one direction per channel)") }
        var out = Array(repeating: [Int16](), count: channels)
        let data = Array(samples)
        switch (format, bits) {
        case (1, 16):
            let frames = data.count / (2 * channels)
            for c in 0..<channels { out[c].reserveCapacity(frames) }
            for f in 0..<frames {
                for c in 0..<channels {
                    let at = (f * channels + c) * 2
                    out[c].append(Int16(bitPattern: UInt16(data[at]) | UInt16(data[at + 1]) << 8))
                }
            }
        case (6, 8), (7, 8):
            let decode = format == 6 ? G711.alawToLinear : G711.ulawToLinear
            for (i, byte) in data.enumerated() { out[i % channels].append(decode(byte)) }
        default:
            throw LabError("\(path): WAV format \(format) with \(bits) bits; expected PCM 16-bit or G.711 A-law/mu-law")
        }
        return Recording(channels: out)
    }

    /// Writes a WAV, channels interleaved: 16-bit PCM, or with `alaw` G.711 A-law (8 bits a
    /// sample, what crossed the line anyway; half the size for committed fixtures).
    public func write(_ path: String, alaw: Bool = false) throws(LabError) {
        let count = channels.map(\.count).max() ?? 0
        let width = alaw ? 1 : 2
        var bytes: [UInt8] = []
        bytes.reserveCapacity(58 + count * channels.count * width)
        func u16(_ v: Int) { bytes += [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
        func u32(_ v: Int) { u16(v & 0xffff); u16(v >> 16 & 0xffff) }
        let dataSize = count * channels.count * width
        bytes += Array("RIFF".utf8); u32((alaw ? 50 : 36) + dataSize + (dataSize & 1)); bytes += Array("WAVE".utf8)
        bytes += Array("fmt ".utf8); u32(alaw ? 18 : 16); u16(alaw ? 6 : 1); u16(channels.count); u32(sampleRate)
        u32(sampleRate * channels.count * width); u16(channels.count * width); u16(width * 8)
        if alaw {
            u16(0)  // cbSize
            bytes += Array("fact".utf8); u32(4); u32(count)
        }
        bytes += Array("data".utf8); u32(dataSize)
        for i in 0..<count {
            for channel in channels {
                let sample = i < channel.count ? channel[i] : 0
                if alaw {
                    bytes.append(G711.linearToALaw(sample))
                } else {
                    let v = UInt16(bitPattern: sample)
                    bytes += [UInt8(v & 0xff), UInt8(v >> 8)]
                }
            }
        }
        if dataSize & 1 == 1 { bytes.append(0) }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw LabError("\(path): cannot write") }
    }
}

/// A lab failure naming the file and what was wrong.
public struct LabError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
