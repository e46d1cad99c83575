"""The customer portal: its pages, forms, page data and URLconf; the sign-in, password reset and two-factor pages."""
