// StrataTrain: see README's module tour.
