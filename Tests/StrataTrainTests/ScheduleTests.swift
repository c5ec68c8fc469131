import Foundation
import XCTest
import StrataTrain

final class ScheduleTests: XCTestCase {
    func testConstant() {
        for step in [0, 10, 99, 100] {
            XCTAssertEqual(LearningRateSchedule.constant.multiplier(step: step, totalSteps: 100), 1)
        }
    }

    func testCosineWarmupAndDecay() {
        let s = LearningRateSchedule.cosine(warmup: 10, minRatio: 0.1)
        XCTAssertEqual(s.multiplier(step: 0, totalSteps: 110), 0.1, accuracy: 1e-6)  // warmup start: 1/10
        XCTAssertEqual(s.multiplier(step: 4, totalSteps: 110), 0.5, accuracy: 1e-6)  // warmup midpoint
        XCTAssertEqual(s.multiplier(step: 9, totalSteps: 110), 1, accuracy: 1e-6)    // warmup end
        XCTAssertEqual(s.multiplier(step: 10, totalSteps: 110), 1, accuracy: 1e-6)   // decay start
        XCTAssertEqual(s.multiplier(step: 60, totalSteps: 110), 0.55, accuracy: 1e-6)  // decay midpoint
        XCTAssertEqual(s.multiplier(step: 110, totalSteps: 110), 0.1, accuracy: 1e-6)  // end
        XCTAssertEqual(s.multiplier(step: 500, totalSteps: 110), 0.1, accuracy: 1e-6)  // past the end: stays
        var previous: Float = 2
        for step in 10...110 {
            let m = s.multiplier(step: step, totalSteps: 110)
            XCTAssertLessThanOrEqual(m, previous)
            previous = m
        }
    }

    func testWarmupStableDecay() {
        let s = LearningRateSchedule.wsd(warmup: 10, decayFraction: 0.2, minRatio: 0)
        XCTAssertEqual(s.multiplier(step: 0, totalSteps: 100), 0.1, accuracy: 1e-6)
        XCTAssertEqual(s.multiplier(step: 9, totalSteps: 100), 1, accuracy: 1e-6)
        XCTAssertEqual(s.multiplier(step: 50, totalSteps: 100), 1)
        XCTAssertEqual(s.multiplier(step: 79, totalSteps: 100), 1)
        XCTAssertEqual(s.multiplier(step: 80, totalSteps: 100), 1, accuracy: 1e-6)    // decay starts at 80
        XCTAssertEqual(s.multiplier(step: 90, totalSteps: 100), 0.5, accuracy: 1e-6)  // decay midpoint
        XCTAssertEqual(s.multiplier(step: 100, totalSteps: 100), 0, accuracy: 1e-6)
        let floor = LearningRateSchedule.wsd(warmup: 0, decayFraction: 0.5, minRatio: 0.2)
        XCTAssertEqual(floor.multiplier(step: 0, totalSteps: 10), 1)
        XCTAssertEqual(floor.multiplier(step: 10, totalSteps: 10), 0.2, accuracy: 1e-6)
    }

    func decode(_ json: String) throws -> LearningRateSchedule {
        try JSONDecoder().decode(LearningRateSchedule.self, from: Data(json.utf8))
    }

    func testJSONForm() throws {
        XCTAssertEqual(try decode(#"{"kind": "cosine", "warmup": 100, "min_ratio": 0.1}"#),
                       .cosine(warmup: 100, minRatio: 0.1))
        XCTAssertEqual(try decode(#"{"kind": "wsd", "warmup": 5, "decay_fraction": 0.3, "min_ratio": 0.05}"#),
                       .wsd(warmup: 5, decayFraction: 0.3, minRatio: 0.05))
        XCTAssertEqual(try decode(#"{"kind": "constant"}"#), .constant)
        XCTAssertEqual(try decode(#"{"kind": "cosine"}"#), .cosine(warmup: 0, minRatio: 0.1))
        for s: LearningRateSchedule in [.constant, .cosine(warmup: 3, minRatio: 0.25), .wsd(warmup: 1, decayFraction: 0.5, minRatio: 0)] {
            let data = try JSONEncoder().encode(s)
            XCTAssertEqual(try JSONDecoder().decode(LearningRateSchedule.self, from: data), s)
        }
        let text = String(decoding: try JSONEncoder().encode(LearningRateSchedule.cosine(warmup: 3, minRatio: 0.5)),
                          as: UTF8.self)
        XCTAssertTrue(text.contains("\"min_ratio\""), text)
    }

    func testJSONErrorsNameKeyAndChoices() {
        XCTAssertThrowsError(try decode(#"{"kind": "cosine", "warmpu": 10}"#)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("warmpu") && message.contains("min_ratio"), message)
        }
        XCTAssertThrowsError(try decode(#"{"kind": "linear"}"#)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("linear") && message.contains("cosine, wsd"), message)
        }
        XCTAssertThrowsError(try decode(#"{"kind": "constant", "warmup": 3}"#)) { error in
            XCTAssertTrue("\(error)".contains("warmup"), "\(error)")
        }
        XCTAssertThrowsError(try decode(#"{"warmup": 3}"#))
        XCTAssertThrowsError(try decode(#"{"kind": "wsd", "decay_fraction": 1.5}"#))
    }
}
