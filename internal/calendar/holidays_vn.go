package calendar

import "time"

// Names of the Vietnamese public holidays (Labour Code 2019, art. 112).
const (
	nameNewYear   = "Tết Dương lịch (New Year's Day)"
	nameTet       = "Tết Nguyên đán (Lunar New Year)"
	nameHungKings = "Giỗ Tổ Hùng Vương (Hùng Kings' Commemoration)"
	nameReunion   = "Ngày Chiến thắng (Reunification Day, 30 April)"
	nameLabour    = "Ngày Quốc tế Lao động (International Labour Day, 1 May)"
	nameNational  = "Quốc khánh (National Day, 2 September)"
	nameMakeUp    = "Làm bù (make-up working day)"
)

func off(y int, m time.Month, d int, name string) Holiday {
	return Holiday{Date: Date{Year: y, Month: m, Day: d}, Name: name, Kind: DayOff}
}

func work(y int, m time.Month, d int, name string) Holiday {
	return Holiday{Date: Date{Year: y, Month: m, Day: d}, Name: name, Kind: MakeUpWorkday}
}

// VietnamHolidays returns the weekdays off and make-up working days of
// Vietnamese officials and civil servants (whom customs offices follow) for
// 2025, 2026 and 2027. Only days that change a Monday–Friday schedule are
// listed: a holiday on a weekend appears as the weekday given in lieu.
//
// Sources are named per line. Where no government decision for a year was
// found, the line follows the statutory minimum of the Labour Code 2019,
// art. 111–112: Tết is the last day of the old lunar year and the first four
// days of the new one; 2 September plus 1 or 3 September; a holiday falling
// on a weekly day off is given in lieu on the next working day. Those lines
// say "statutory" and must be replaced when the government publishes the
// year's schedule.
func VietnamHolidays() []Holiday {
	return []Holiday{
		// 2025.
		off(2025, time.January, 1, nameNewYear),    // Wed; statutory, one day (no swap found)
		off(2025, time.January, 27, nameTet),       // Mon, 28 Chạp; PM-approved 9-day break 25 Jan–2 Feb (Government Office, 26 Nov 2024; SGGP "Prime Minister approves 9-day Tet break for 2025")
		off(2025, time.January, 28, nameTet),       // Tue, last day of Giáp Thìn; same source
		off(2025, time.January, 29, nameTet),       // Wed, mùng 1 Ất Tỵ; same source
		off(2025, time.January, 30, nameTet),       // Thu; same source
		off(2025, time.January, 31, nameTet),       // Fri; same source
		off(2025, time.April, 7, nameHungKings),    // Mon, 10/3 lunar (thoidai.com.vn "Người lao động sẽ có kỳ nghỉ 30/4-1/5 dài 5 ngày")
		work(2025, time.April, 26, nameMakeUp),     // Sat, worked for Fri 2 May; same source
		off(2025, time.April, 30, nameReunion),     // Wed; same source
		off(2025, time.May, 1, nameLabour),         // Thu; same source
		off(2025, time.May, 2, nameReunion),        // Fri, bridge day swapped with Sat 26 Apr; same source
		off(2025, time.September, 1, nameNational), // Mon, the adjacent day; Ministry of Home Affairs (VNS "National Day holiday to last four days", 4 Aug 2025)
		off(2025, time.September, 2, nameNational), // Tue; same source

		// 2026.
		off(2026, time.January, 1, nameNewYear),    // Thu; Government Office letter 12729/VPCP-KGVX of 25 Dec 2025 ("Bốn ngày nghỉ dịp Tết Dương lịch 2026")
		off(2026, time.January, 2, nameNewYear),    // Fri, bridge day swapped with Sat 10 Jan; same source
		work(2026, time.January, 10, nameMakeUp),   // Sat, worked for Fri 2 Jan; same source
		off(2026, time.February, 16, nameTet),      // Mon, 29 Chạp, last day of Ất Tỵ; Ministry of Home Affairs notice 9441/TB-BNV of 16 Oct 2025 (VNS, 17 Oct 2025, "Ministry of Home Affairs announces 2026 holiday schedule")
		off(2026, time.February, 17, nameTet),      // Tue, mùng 1 Bính Ngọ; same source
		off(2026, time.February, 18, nameTet),      // Wed; same source
		off(2026, time.February, 19, nameTet),      // Thu; same source
		off(2026, time.February, 20, nameTet),      // Fri, mùng 4; same source
		off(2026, time.April, 27, nameHungKings),   // Mon, in lieu of Sun 26 Apr (10/3 lunar); Thanh Niên, 23 Feb 2026, on the 2026 Hùng Kings, 30.4–1.5 and 2.9 days off
		off(2026, time.April, 30, nameReunion),     // Thu; same source
		off(2026, time.May, 1, nameLabour),         // Fri; same source
		work(2026, time.August, 22, nameMakeUp),    // Sat, worked for Mon 31 Aug; notice 9441/TB-BNV (VNS, as above)
		off(2026, time.August, 31, nameNational),   // Mon, bridge day swapped with Sat 22 Aug; same source
		off(2026, time.September, 1, nameNational), // Tue, the adjacent day; same source
		off(2026, time.September, 2, nameNational), // Wed; same source

		// 2027: no government schedule found; statutory minimum.
		off(2027, time.January, 1, nameNewYear),    // Fri; statutory
		off(2027, time.February, 5, nameTet),       // Fri, last day of Bính Ngọ; statutory
		off(2027, time.February, 8, nameTet),       // Mon, mùng 3 Đinh Mùi (mùng 1 = Sat 6 Feb); statutory
		off(2027, time.February, 9, nameTet),       // Tue, mùng 4; statutory
		off(2027, time.February, 10, nameTet),      // Wed, in lieu of Sat 6 Feb (mùng 1); statutory
		off(2027, time.February, 11, nameTet),      // Thu, in lieu of Sun 7 Feb (mùng 2); statutory
		off(2027, time.April, 16, nameHungKings),   // Fri, 10/3 lunar; statutory
		off(2027, time.April, 30, nameReunion),     // Fri; statutory
		off(2027, time.May, 3, nameLabour),         // Mon, in lieu of Sat 1 May; statutory
		off(2027, time.September, 2, nameNational), // Thu; statutory
		off(2027, time.September, 3, nameNational), // Fri, the adjacent day (1 or 3 Sep: 3 Sep assumed); statutory
	}
}
