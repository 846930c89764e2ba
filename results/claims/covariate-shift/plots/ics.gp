set terminal pngcairo size 900,560 font ',11'
set output 'results/claims/covariate-shift/plots/ics.png.tmp'
set title 'Internal covariate shift of fc3 (Santurkar et al.)'
set xlabel 'step'
set ylabel '‖G - G''‖ / ‖G‖'
set key bottom right
set grid
set logscale y
set format y '%g'
plot 'results/claims/covariate-shift/plots/ics.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'noisy-bn'
