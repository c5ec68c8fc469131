// StrataModels: see README's module tour.
