// StrataReport: see README's module tour.
