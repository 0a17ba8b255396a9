@testable import Fax
import FaxdTesting
import Foundation
import Testing

/// What a failed document open tells the retry planner and the client (issue 18: a send dialled
/// while a connection flood held every descriptor was failed for good as "not a TIFF file").
@Suite struct FaxErrorTests {
    @Test func runningOutOfDescriptorsIsTemporaryAndADamagedFileIsNot() {
        for code in [EMFILE, ENFILE, ENOMEM] {
            let error = FaxError.opening("/srv/faxd/fax_files/tx/abc.tif", errno: code, "cannot read the file")
            #expect(error.code == .resourcesExhausted && error.isTemporary, "\(error)")
            #expect(!error.reason.contains("/srv"), "no server path in \(error.reason)")
        }
        let missing = FaxError.opening("/srv/faxd/fax_files/tx/abc.tif", errno: ENOENT, "cannot read the file")
        #expect(missing.code == .documentUnreadable && !missing.isTemporary)
        #expect(missing.reason == "abc.tif: cannot read the file (No such file or directory)")
    }

    @Test func documentErrorsNameTheFileNotItsServerPath() throws {
        let directory = Fixtures.scratchDirectory("fax-error")
        let garbage = directory + "/upload.tif"
        try Data("not a tiff".utf8).write(to: URL(fileURLWithPath: garbage))
        for path in [garbage, directory + "/absent.tif"] {
            do {
                _ = try TIFFDocument(path: path)
                Issue.record("\(path) opened")
            } catch {
                #expect(error.code == .documentUnreadable && !error.isTemporary)
                #expect(!error.reason.contains(directory), "\(error.reason)")
                #expect(error.reason.hasPrefix(FileName.shown(path) + ": "), "\(error.reason)")
            }
        }
    }
}
