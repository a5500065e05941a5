"""Who is told what: in-app notifications and the mail the workers will send for them."""
