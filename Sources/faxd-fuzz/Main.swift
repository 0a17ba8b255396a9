import Foundation

/// `faxd-fuzz TARGET [libFuzzer options] [CORPUS...]`.
///
/// Built normally (every `swift build`), it replays the files or directories given through the
/// target once each: the corpus as a regression test. Built by `scripts/fuzz` (address sanitizer,
/// coverage, `-D FUZZING`, linked with libFuzzer's no-main runtime) it hands the rest of the
/// command line to libFuzzer. SwiftPM names an executable's entry `<target>_main`, so this is it.
@_cdecl("faxd_fuzz_main")
public func faxdFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    let arguments = (0..<Int(argc)).map { String(cString: argv![$0]!) }
    guard arguments.count >= 2, let target = FuzzTargets.all[arguments[1]] else {
        let names = FuzzTargets.all.keys.sorted().joined(separator: ", ")
        FileHandle.standardError.write(Data("usage: faxd-fuzz TARGET [options] [corpus...]; targets: \(names)\n".utf8))
        return 2
    }
    Fuzzing.target = target
    #if FUZZING
    // libFuzzer sees argv without the target name.
    var count = argc - 1
    var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    argv![1] = argv![0]
    vector = argv! + 1
    return LLVMFuzzerRunDriver(&count, &vector) { data, size in
        Fuzzing.target?(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
    #else
    var runs = 0
    for path in arguments.dropFirst(2) where !path.hasPrefix("-") {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
        let files = isDirectory.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            data.withUnsafeBytes { target($0) }
            runs += 1
        }
    }
    print("\(arguments[1]): \(runs) inputs replayed without a crash")
    return 0
    #endif
}

enum Fuzzing {
    nonisolated(unsafe) static var target: (@Sendable (UnsafeRawBufferPointer) -> Void)?
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32
#endif
