// StrataIO: see README's module tour.
